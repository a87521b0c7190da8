"""Minesafe desk: collision and run-over warning for an open-pit mine (pure computing modules first)."""
