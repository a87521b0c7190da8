"""The appeals desk: citizens write to agencies; agencies answer in time."""
