"""Buzzer commands back to trackers, through the core outbox.

When the base-station engine raises a danger a tracker could not have raised on board, a 2-byte buzzer
command (``codec.encode_buzzer``) is queued for it, in the same transaction as the alarm, on the outbox's
``radio`` channel; this process's own worker (the one holding the masts' links) sends it through the
mast that heard the tracker loudest: ``…/command/down`` for a mast behind the ChirpStack bridge, a
``PULL_RESP`` for a Semtech UDP forwarder. Each attempt is recorded; a command not sent within
``TOO_LATE_S`` warns of nothing any more and is given up (rejected, with the reason).

What a tracker raises itself: it runs the same engine on what it hears — the other trackers' frames and
the masts' relay of tracker ids 0..19 — and carries the site's zones and speed limits. So it misses a
collision or run-over danger only when the other party is not on its air: a phone (OsmAnd, no radio) or a
tracker whose id the masts do not relay (20..31). Those are the commands sent."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tocsin.core import outbox
from tocsin.core.db import Database
from tocsin.core.outbox import Answer, OutboxMessage, Outgoing, Worker
from tocsin.minesafe import codec
from tocsin.minesafe.ingest import chirpstack
from tocsin.minesafe.ingest.pipeline import Ingestion
from tocsin.minesafe.ingest.semtech import ForwarderProtocol, txpk_for
from tocsin.minesafe.model import AlarmEvent

DESK, KIND = "minesafe", "buzzer"
PAIR_TYPES = ("collision", "run_over")
BUZZ_SECONDS = 15  # the tracker sounds this long; the engine's next raise sends another
TOO_LATE_S = 30.0
SCHEDULE = [1, 2, 4, 8]  # seconds between attempts: within TOO_LATE_S
DEFAULT_SF = 7
DEFAULT_FREQUENCY_HZ = 869_525_000  # RU864/EU868's 10 % sub-band, where masts may answer
POWER_DBM = 14
SEND_TIMEOUT_S = 5.0


def partner(site: str) -> str:
    """The outbox partner of a site's radio messages: the worker owning the site claims them."""
    return f"radio:{site}"


@dataclass(frozen=True)
class Downlink:
    """One buzzer command for one tracker, through one mast."""

    site: str
    tracker: str
    gateway: str
    frame: bytes
    level: str
    alarm: str
    frequency_hz: int
    spreading_factor: int

    def outgoing(self) -> Outgoing:
        return Outgoing(
            desk=DESK,
            kind=KIND,
            channel=outbox.RADIO,
            partner=partner(self.site),
            url=f"lora://{self.gateway}",
            payload={
                "gateway": self.gateway,
                "tracker": self.tracker,
                "frame": base64.b64encode(self.frame).decode("ascii"),
                "level": self.level,
                "frequency_hz": self.frequency_hz,
                "spreading_factor": self.spreading_factor,
            },
            stream=f"buzzer:{self.tracker}",
            subject=self.alarm[:200],
            schedule=list(SCHEDULE),
        )


def radio_number(tracker: str) -> int | None:
    """The packet id of a radio tracker ("quarry:7" → 7); None for a phone or anything else."""
    site, _, number = tracker.rpartition(":")
    if site in ("", "phone") or not number.isdigit():
        return None
    return int(number)


def on_its_air(tracker: str) -> bool:
    """Whether every tracker of the site hears this one: a radio tracker the masts relay."""
    number = radio_number(tracker)
    return number is not None and number < codec.STATION_SLOTS


def unwarned(event: AlarmEvent) -> list[str]:
    """The radio trackers of a raised pair danger that could not have raised it themselves."""
    if event.state != "raised" or event.type not in PAIR_TYPES or len(event.ids) != 2:
        return []
    a, b = event.ids
    pairs = ((a, b), (b, a))
    return [mine for mine, other in pairs if radio_number(mine) is not None and not on_its_air(other)]


def plan(events: Iterable[AlarmEvent], ingestion: Ingestion) -> list[Downlink]:
    """The buzzer commands ``events`` call for, each through the mast that heard its tracker loudest (a
    tracker no mast heard since this process started cannot be reached and gets none)."""
    found = []
    for event in events:
        for tracker in unwarned(event):
            heard = ingestion.best_gateway(tracker)
            number = radio_number(tracker)
            if heard is None or number is None:
                continue
            command = codec.BuzzerCommand(number, event.level.value, BUZZ_SECONDS)
            found.append(
                Downlink(
                    site=ingestion.gateways.get(heard.gateway, tracker.rpartition(":")[0]),
                    tracker=tracker,
                    gateway=heard.gateway,
                    frame=codec.encode_buzzer(command),
                    level=event.level.value,
                    alarm="|".join([event.type, *sorted(event.ids)]),
                    frequency_hz=heard.frequency_hz or DEFAULT_FREQUENCY_HZ,
                    spreading_factor=heard.spreading_factor or DEFAULT_SF,
                )
            )
    return found


def queue(db: Any, downlinks: list[Downlink], *, now: datetime) -> None:
    """Queue the commands in the caller's transaction (with the alarms that called for them)."""
    outbox.enqueue_many(db, [downlink.outgoing() for downlink in downlinks], now=now)


class RadioLink:
    """The outbox transport of the ``radio`` channel, called from the worker's threads: it hands each
    frame to the event loop that holds the masts' links and waits for the send."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        udp: Callable[[], ForwarderProtocol | None],
        mqtt: Callable[[], Any],
        region: str,
        json_of: Mapping[str, bool],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``udp``/``mqtt``: the forwarder's protocol and the connected MQTT client now (None when not
        running or away); ``json_of``: each gateway's marshaler as last seen (protojson or protobuf)."""
        self.loop, self.udp, self.mqtt, self.clock = loop, udp, mqtt, clock
        self.region, self.json_of = region, json_of

    def send(self, message: OutboxMessage) -> Answer:
        started = time.monotonic()
        try:
            error, verdict = self._send(message)
        except Exception as failure:  # a broken link must not stop the worker: another try later
            error, verdict = f"{type(failure).__name__}: {failure}"[:300], outbox.RETRY
        duration = int((time.monotonic() - started) * 1000)
        return Answer(status_code=None, body=None, error=error, duration_ms=duration, verdict=verdict)

    def _send(self, message: OutboxMessage) -> tuple[str | None, str]:
        age = self.clock() - message.created_at.timestamp()
        if age > TOO_LATE_S:
            return f"too late: queued {age:.0f} s ago, a buzzer command warns within {TOO_LATE_S:.0f} s", (
                outbox.REJECTED
            )
        payload = message.payload
        frame = base64.b64decode(payload["frame"])
        gateway = payload["gateway"]
        udp = self.udp()
        if udp is not None and gateway in udp.pull_addresses:
            txpk = txpk_for(
                frame, frequency_hz=payload["frequency_hz"], spreading_factor=payload["spreading_factor"]
            )
            sent = self._on_loop(self._udp_send(udp, gateway, txpk))
            return (None, outbox.DELIVERED) if sent else (f"mast {gateway} went away", outbox.RETRY)
        client = self.mqtt()
        if client is not None:
            self._on_loop(self._publish(client, message.id, gateway, frame, payload))
            return None, outbox.DELIVERED
        return f"mast {gateway} is not reachable now (no UDP pull, no MQTT broker)", outbox.RETRY

    def _on_loop(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(SEND_TIMEOUT_S)

    @staticmethod
    async def _udp_send(udp: ForwarderProtocol, gateway: str, txpk: dict[str, object]) -> bool:
        return udp.send_down(gateway, txpk)

    async def _publish(
        self, client: Any, message_id: int, gateway: str, frame: bytes, payload: dict[str, Any]
    ) -> None:
        down = chirpstack.downlink(
            frame,
            gateway=gateway,
            downlink_id=message_id & 0xFFFFFFFF,
            frequency_hz=payload["frequency_hz"],
            spreading_factor=payload["spreading_factor"],
            power_dbm=POWER_DBM,
        )
        body = chirpstack.encode(down, json=self.json_of.get(gateway, True))
        await client.publish(chirpstack.down_topic(self.region, gateway), body, qos=1)


async def serve(
    database: Database,
    *,
    udp: Callable[[], ForwarderProtocol | None],
    mqtt: Callable[[], Any],
    region: str,
    json_of: Mapping[str, bool],
    sites: Callable[[], Collection[str]],
    woken: threading.Event,
) -> None:
    """Run this process's radio worker until cancelled: it claims the ``radio`` messages of the sites
    this process owns (``sites``, asked at each claim) and sends them through the links it holds;
    ``woken`` is set when commands are queued, and retries come due by time."""
    link = RadioLink(asyncio.get_running_loop(), udp=udp, mqtt=mqtt, region=region, json_of=json_of)
    worker = Worker(
        database,
        schedule=SCHEDULE,
        name="minesafe-radio",
        timeout=SEND_TIMEOUT_S,
        batch=16,
        per_partner=16,
        transports={outbox.RADIO: link},
        channels=(outbox.RADIO,),
        partners=lambda: {partner(site) for site in sites()},
    )
    running = asyncio.ensure_future(asyncio.to_thread(worker.run, idle_sleep=1.0, woken=woken))
    try:
        await asyncio.shield(running)
    finally:
        worker.stopping.set()
        woken.set()
        await asyncio.wait([running])
        await asyncio.to_thread(worker.close)
