"""DO role: technicians declare starts and ends (M1/M3) to the PM's OI; rejections are corrected."""
