"""OI role: receives declarations (M1/M3) and impacts (M5), fans out M2/M4, and its staff pages."""
