"""Live push: events published in the caller's transaction (``publish``), told to every process at
commit (``signals``), streamed to staff pages as server-sent events (``stream``, imported by desks'
page routes). See docs/architecture.md, "Live updates"."""

from tocsin.core.live.events import LiveEvent, events_after, last_number, oldest_number, publish, purge
from tocsin.core.live.signals import Listener

__all__ = ["LiveEvent", "Listener", "events_after", "last_number", "oldest_number", "publish", "purge"]
