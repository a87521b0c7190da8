"""Alembic migration history (one history for the core and every desk)."""
