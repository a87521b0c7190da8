"""Server-sent events for staff pages: a desk route returns ``live_stream(request, topics=…, roles=…)``
and its page listens with ``EventSource`` (core/static/live.js).

Each web process has one ``Hub`` per event loop: one ``Listener`` thread (one LISTEN connection on
PostgreSQL) wakes it, it reads the new events once and hands them to every open stream that wants
their topic. A stream starts after the number the page was rendered at (``?after=``) or, when the
browser reconnects, after the ``Last-Event-ID`` it last saw: those it missed are read from the table
first. A client too far behind (events purged, or more than a backlog's worth) gets a ``reset`` event
and reloads what it shows. Every ``RECHECK_SECONDS`` the stream checks that the session is still
signed in with the role, without counting as activity, and ends with an ``end`` event if not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections import deque
from collections.abc import AsyncIterator, Collection

import anyio
from fastapi import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from tocsin.core.db import Database
from tocsin.core.errors import DomainError
from tocsin.core.live import events
from tocsin.core.live.signals import Listener
from tocsin.core.web.sessions import still_signed_in
from tocsin.core.web.shell import shell_of

log = logging.getLogger(__name__)

RETRY_MS = 2000  # how long a browser waits before reconnecting
HEARTBEAT_SECONDS = 15.0  # a comment line this often keeps proxies from closing an idle stream
RECHECK_SECONDS = 30.0
LOOK_EVERY = 5.0  # the hub reads the table this often even without a signal (a lost datagram)
LINGER_SECONDS = 30.0  # an unused hub keeps its listener this long, so a page reload does not reconnect
BATCH = 500
MAX_BACKLOG = 1000  # a reconnecting client that missed more than this reloads instead
MAX_QUEUED = 2000  # a stream that falls this far behind is closed; the browser resumes from its last id


class Subscription:
    """One open stream's share of the hub: the events of its topics, waiting to be sent."""

    def __init__(self, topics: Collection[str]) -> None:
        self.topics = frozenset(topics)
        self.waiting: deque[tuple[int, str]] = deque()
        self.ready = asyncio.Event()
        self.overflowed = False

    def offer(self, number: int, chunk: str) -> None:
        if len(self.waiting) >= MAX_QUEUED:
            self.overflowed = True
        else:
            self.waiting.append((number, chunk))
        self.ready.set()


class Hub:
    """Reads each new event once per web process and event loop and fans it out to the open streams."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.loop = asyncio.get_running_loop()
        self.changed = asyncio.Event()
        self.lock = asyncio.Lock()  # reads and subscriptions take turns, so none sees half a batch
        self.streams: set[Subscription] = set()
        self.position = 0  # the number of the last event handed out
        self.idle_since = self.loop.time()
        self.listener: Listener | None = None
        self.task: asyncio.Task[None] | None = None

    async def subscribe(self, topics: Collection[str]) -> tuple[Subscription, int]:
        """A new stream's subscription and the hub's position: later events will come through it."""
        async with self.lock:
            if not self.streams:
                self.position = await asyncio.to_thread(self._read_last)
            if self.task is None or self.task.done():
                self.listener = Listener(self.database.url, self._signalled, name="live-hub").start()
                self.task = self.loop.create_task(self._run())
            subscription = Subscription(topics)
            self.streams.add(subscription)
            return subscription, self.position

    def unsubscribe(self, subscription: Subscription) -> None:
        self.streams.discard(subscription)
        if not self.streams:
            self.idle_since = self.loop.time()

    def _signalled(self, topic: str | None) -> None:
        """Called in the listener's thread."""
        if self.loop.is_closed():
            if self.listener:
                self.listener.stopped.set()
            return
        self.loop.call_soon_threadsafe(self.changed.set)

    async def _run(self) -> None:
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), LOOK_EVERY)
                self.changed.clear()
                if not self.streams:
                    if self.loop.time() - self.idle_since >= LINGER_SECONDS:
                        return
                    continue
                try:
                    async with self.lock:
                        await self._hand_out()
                except Exception as error:  # the database may be away for a moment; look again later
                    log.warning("live: could not read new events: %s: %s", type(error).__name__, error)
        finally:  # unused for a while, or the server is stopping
            if self.listener:
                self.listener.stopped.set()

    async def _hand_out(self) -> None:
        while True:
            batch = await asyncio.to_thread(self._read_after, self.position)
            for number, topic, chunk in batch:
                for subscription in self.streams:
                    if topic in subscription.topics:
                        subscription.offer(number, chunk)
                self.position = number
            if len(batch) < BATCH:
                return

    def _read_last(self) -> int:
        with self.database.session() as db:
            return events.last_number(db)

    def _read_after(self, after: int) -> list[tuple[int, str, str]]:
        with self.database.session() as db:
            return [(e.id, e.topic, chunk_of(e)) for e in events.events_after(db, after=after, limit=BATCH)]


def chunk_of(event: events.LiveEvent) -> str:
    """One event as the text/event-stream format writes it."""
    body = json.dumps({"topic": event.topic, "data": event.data}, separators=(",", ":"))
    return f"id: {event.id}\ndata: {body}\n\n"


def hub_of(request: Request) -> Hub:
    """This app's hub in the running event loop (made at its first stream)."""
    state = request.app.state
    hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] | None = getattr(state, "live_hubs", None)
    if hubs is None:
        hubs = state.live_hubs = weakref.WeakKeyDictionary()
    loop = asyncio.get_running_loop()
    if loop not in hubs:
        hubs[loop] = Hub(shell_of(request).database)
    return hubs[loop]


class EventStreamResponse(StreamingResponse):
    """A stream that stops as soon as the client goes (it waits for ``http.disconnect`` whatever the
    server's ASGI version), so a closed tab frees its subscription at once."""

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[str]) -> None:
        super().__init__(content, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self.events = content

    async def stream_response(self, send: Send) -> None:
        """Like Starlette's, but the first chunk is made before the headers go: the stream has joined
        its hub by then, so a client that saw the 200 gets every event committed afterwards."""
        chunks = aiter(self.events)
        first = await anext(chunks)
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": first.encode(), "more_body": True})
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    with contextlib.suppress(OSError):  # the client went while we wrote
                        await self.stream_response(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            closing = getattr(self.events, "aclose", None)
            if closing is not None:
                await closing()


def live_stream(request: Request, *, topics: Collection[str], roles: Collection[str]) -> EventStreamResponse:
    """The events of ``topics`` for a signed-in user holding one of ``roles`` (the route checked both
    already; the stream checks them again now and then)."""
    if not topics:
        raise ValueError("a live stream needs at least one topic")
    after = _number(request.headers.get("last-event-id"), "Last-Event-ID")
    if after is None:
        after = _number(request.query_params.get("after"), "after")
    return EventStreamResponse(_events(request, frozenset(topics), tuple(roles), after))


def _number(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 18:
        raise DomainError("an event number is a whole number of at most 18 digits", field=name)
    return int(value)


async def _events(
    request: Request, topics: frozenset[str], roles: tuple[str, ...], after: int | None
) -> AsyncIterator[str]:
    hub = hub_of(request)
    subscription, position = await hub.subscribe(topics)
    loop = asyncio.get_running_loop()
    try:
        yield f"retry: {RETRY_MS}\n\n"
        cursor = position
        if after is not None:
            missed, reset = await asyncio.to_thread(_missed, hub.database, topics, after, position)
            if reset:
                yield f"id: {position}\nevent: reset\ndata: {{}}\n\n"
            else:
                for chunk in missed:
                    yield chunk
                cursor = max(after, position)
        recheck_at = loop.time() + RECHECK_SECONDS
        while not subscription.overflowed:
            if loop.time() >= recheck_at:
                if not await asyncio.to_thread(still_signed_in, request, roles):
                    yield "event: end\ndata: {}\n\n"
                    return
                recheck_at = loop.time() + RECHECK_SECONDS
            if subscription.waiting:
                number, chunk = subscription.waiting.popleft()
                if number > cursor:
                    cursor = number
                    yield chunk
                continue
            subscription.ready.clear()
            try:
                await asyncio.wait_for(subscription.ready.wait(), min(HEARTBEAT_SECONDS, RECHECK_SECONDS))
            except TimeoutError:
                yield ": still here\n\n"
    finally:
        hub.unsubscribe(subscription)


def _missed(database: Database, topics: frozenset[str], after: int, position: int) -> tuple[list[str], bool]:
    """The events of ``topics`` after ``after`` up to the hub's ``position``, or reset=True when some of
    them are gone (purged), too many, or ``after`` is a number this database never gave."""
    with database.session() as db:
        if after > events.last_number(db):
            return [], True
        if after >= position:
            return [], False
        oldest = events.oldest_number(db)
        if oldest and after < oldest - 1:
            return [], True
        found = events.events_after(db, after=after, topics=topics, upto=position, limit=MAX_BACKLOG + 1)
    if len(found) > MAX_BACKLOG:
        return [], True
    return [chunk_of(e) for e in found], False
