"""E-Intervention desk (Interop'Fibre lot 1): the OI, DO and OC roles of the protocol."""
