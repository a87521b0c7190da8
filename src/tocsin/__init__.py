"""Tocsin: tell the right party, in time, and be able to prove it."""

__version__ = "0.1.0"
