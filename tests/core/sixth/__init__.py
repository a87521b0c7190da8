"""A throw-away desk for the registry test: one route, one table, one job, one command, one menu entry."""
