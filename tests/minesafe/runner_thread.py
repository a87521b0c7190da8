"""The ingestion runner on an event loop of its own, in a thread, for the tests that talk to it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

from tests.support import wait_until
from tocsin.minesafe.ingest.runner import Running


class RunnerThread:
    """Runs ``coroutine`` (a ``runner.run(...)``) until ``stop``; ``start`` waits for every transport."""

    def __init__(self, running: Running, coroutine: Coroutine[Any, Any, None]) -> None:
        self.running, self.coroutine = running, coroutine
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.task = self.loop.create_task(self.coroutine)
        self.loop.run_until_complete(asyncio.wait([self.task]))

    def start(self) -> None:
        self.thread.start()
        wait_until(self.running.ready.is_set, what="every transport to listen", timeout=20)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()
        self.loop.close()
