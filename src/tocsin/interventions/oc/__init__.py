"""OC role: receives announcements (M2/M4), keeps the outage feed, computes impacted customers, sends M5."""
