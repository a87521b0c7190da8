"""Masts without the ChirpStack bridge: the Semtech UDP packet forwarder protocol (GWMP), UDP port 1700.

A datagram is a version byte (1 or 2), a 2-byte token the answer must echo, a type byte, then for the
gateway's own messages its 8-byte EUI and for PUSH_DATA a JSON object with ``rxpk[]`` (frames heard) and
``stat`` (the gateway's status). Anyone on the network can send to the port, so every field is checked and
anything wrong is an :class:`IngestError` naming it, never another exception."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import random
import re
import socket
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from tocsin.minesafe.ingest.uplinks import IngestError, MastStats, Uplink

log = logging.getLogger(__name__)

PUSH_DATA = 0x00
PUSH_ACK = 0x01
PULL_DATA = 0x02
PULL_RESP = 0x03
PULL_ACK = 0x04
TX_ACK = 0x05

_KINDS = {PUSH_DATA, PUSH_ACK, PULL_DATA, PULL_RESP, PULL_ACK, TX_ACK}
_WITH_EUI = {PUSH_DATA, PULL_DATA, TX_ACK}
MAX_BODY = 65_507  # the largest UDP payload over IPv4
MAX_RXPK = 256  # far above what a real gateway batches; a bound on the work one datagram can cause
MAX_FRAME = 255  # a LoRa PHY payload never exceeds 255 bytes
GPS_EPOCH_UNIX = 315_964_800.0  # 1980-01-06T00:00:00Z
GPS_LEAP_SECONDS = 18.0  # GPS time runs ahead of UTC by this much since 2017
_DATR = re.compile(r"SF(\d{1,2})BW(\d{1,3})", re.ASCII)
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z", re.ASCII)
_STAT_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) (?:GMT|UTC)", re.ASCII)


@dataclass(frozen=True, slots=True)
class Datagram:
    """One GWMP datagram, decoded: what to answer (version, token, kind) and what it carried."""

    version: int
    token: int
    kind: int
    gateway: str = ""
    uplinks: tuple[Uplink, ...] = ()
    stats: MastStats | None = None
    tx_error: str | None = None


def parse_datagram(data: bytes, *, now: float) -> Datagram:
    """Decode one datagram; ``now`` stands in for frames and stats that carry no time of their own."""
    if len(data) < 4:
        raise IngestError("header", f"{len(data)} bytes, at least 4 needed")
    version, token, kind = data[0], int.from_bytes(data[1:3], "big"), data[3]
    if version not in (1, 2):
        raise IngestError("version", f"{version} is not 1 or 2")
    if kind not in _KINDS:
        raise IngestError("type", f"0x{kind:02x} is not a GWMP message type")
    if kind not in _WITH_EUI:
        return Datagram(version, token, kind)
    if len(data) < 12:
        raise IngestError("gateway", "missing")
    gateway, body = data[4:12].hex(), data[12:]
    if kind == PUSH_DATA:
        uplinks, stats = _push_body(_json_object(body), gateway, now)
        return Datagram(version, token, kind, gateway, uplinks, stats)
    if kind == TX_ACK:
        return Datagram(version, token, kind, gateway, tx_error=_tx_error(body))
    return Datagram(version, token, kind, gateway)


def ack(datagram: Datagram) -> bytes | None:
    """The answer the gateway waits for: PUSH_ACK for PUSH_DATA, PULL_ACK for PULL_DATA, else nothing."""
    answers = {PUSH_DATA: PUSH_ACK, PULL_DATA: PULL_ACK}
    kind = answers.get(datagram.kind)
    if kind is None:
        return None
    return _header(datagram.version, datagram.token, kind)


def pull_resp(version: int, token: int, txpk: Mapping[str, object]) -> bytes:
    """A downlink for the gateway to transmit, sent to the address its last PULL_DATA came from."""
    body = json.dumps({"txpk": dict(txpk)}, separators=(",", ":"), allow_nan=False)
    return _header(version, token, PULL_RESP) + body.encode()


def txpk_for(
    payload: bytes,
    *,
    frequency_hz: int,
    spreading_factor: int,
    power_dbm: int = 14,
    immediate: bool = True,
) -> dict[str, object]:
    """The ``txpk`` fields for a LoRa downlink at 125 kHz; ``ipol`` so that trackers, not other
    gateways, hear it."""
    if not 1 <= len(payload) <= MAX_FRAME:
        raise ValueError(f"payload of {len(payload)} bytes; a LoRa frame holds 1 to {MAX_FRAME}")
    if not 5 <= spreading_factor <= 12:
        raise ValueError(f"spreading factor {spreading_factor} is not 5 to 12")
    return {
        "imme": immediate,
        "freq": round(frequency_hz / 1e6, 6),
        "rfch": 0,
        "powe": power_dbm,
        "modu": "LORA",
        "datr": f"SF{spreading_factor}BW125",
        "codr": "4/5",
        "ipol": True,
        "size": len(payload),
        "data": base64.b64encode(payload).decode("ascii"),
    }


def _header(version: int, token: int, kind: int) -> bytes:
    return bytes((version,)) + (token & 0xFFFF).to_bytes(2, "big") + bytes((kind,))


def _reject_constant(name: str) -> float:
    raise IngestError("body", f"{name} is not a number JSON allows")


def _json_object(body: bytes) -> dict[str, Any]:
    """The JSON body as an object; Python's decoder takes NaN and Infinity, GWMP does not."""
    if len(body) > MAX_BODY:
        raise IngestError("body", f"{len(body)} bytes, more than {MAX_BODY}")
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except IngestError:
        raise
    except UnicodeDecodeError:
        raise IngestError("body", "not UTF-8") from None
    except (ValueError, RecursionError):  # JSONDecodeError, too many digits, nesting too deep
        raise IngestError("body", "not JSON") from None
    if not isinstance(value, dict):
        raise IngestError("body", f"a JSON {type(value).__name__}, an object expected")
    return value


def _push_body(body: dict[str, Any], gateway: str, now: float) -> tuple[tuple[Uplink, ...], MastStats | None]:
    if "rxpk" not in body and "stat" not in body:
        raise IngestError("body", "neither rxpk nor stat")
    uplinks: tuple[Uplink, ...] = ()
    if "rxpk" in body:
        rxpk = body["rxpk"]
        if not isinstance(rxpk, list):
            raise IngestError("rxpk", "not a list")
        if len(rxpk) > MAX_RXPK:
            raise IngestError("rxpk", f"{len(rxpk)} frames, more than {MAX_RXPK}")
        uplinks = tuple(_uplink(entry, f"rxpk[{i}]", gateway, now) for i, entry in enumerate(rxpk))
    stats = _stats(body["stat"], gateway, now) if "stat" in body else None
    return uplinks, stats


def _uplink(entry: object, path: str, gateway: str, now: float) -> Uplink:
    if not isinstance(entry, dict):
        raise IngestError(path, "not an object")
    payload = _payload(entry, path)
    stat = _integer(entry, "stat", path, -1, 1)
    rssi, snr = _link_quality(entry, path)
    freq = _number(entry, "freq", path, 1.0, 10_000.0)
    return Uplink(
        gateway=gateway,
        payload=payload,
        received=_received(entry, path, now),
        rssi=rssi,
        snr=snr,
        frequency_hz=round(freq * 1e6) if freq is not None else None,
        spreading_factor=_spreading_factor(entry, path),
        crc_ok=stat == 1,
    )


def _payload(entry: dict[str, Any], path: str) -> bytes:
    """``data`` decoded; a ``size`` that disagrees means the frame was mangled on its way."""
    text = entry.get("data")
    if not isinstance(text, str):
        raise IngestError(f"{path}.data", "missing" if text is None else "not a string")
    if len(text) > 4 * MAX_FRAME:
        raise IngestError(f"{path}.data", "longer than a LoRa frame")
    try:
        payload = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise IngestError(f"{path}.data", "not base64") from None
    if not 1 <= len(payload) <= MAX_FRAME:
        raise IngestError(f"{path}.data", f"{len(payload)} bytes; a LoRa frame holds 1 to {MAX_FRAME}")
    size = _integer(entry, "size", path, 0, MAX_FRAME)
    if size is not None and size != len(payload):
        raise IngestError(f"{path}.size", f"{size} but data holds {len(payload)} bytes")
    return payload


def _link_quality(entry: dict[str, Any], path: str) -> tuple[float | None, float | None]:
    """RSSI and SNR from the v1 fields, else from the first antenna of ``rsig`` (forwarders for the
    SX1301v2 boards put them only there)."""
    rssi = _number(entry, "rssi", path, -200.0, 50.0)
    snr = _number(entry, "lsnr", path, -50.0, 50.0)
    if "rsig" not in entry:
        return rssi, snr
    rsig = entry["rsig"]
    if not isinstance(rsig, list) or not rsig or not isinstance(rsig[0], dict):
        raise IngestError(f"{path}.rsig", "not a list of objects")
    first = rsig[0]
    if rssi is None:
        rssi = _number(first, "rssic", f"{path}.rsig[0]", -200.0, 50.0)
    if snr is None:
        snr = _number(first, "lsnr", f"{path}.rsig[0]", -50.0, 50.0)
    return rssi, snr


def _received(entry: dict[str, Any], path: str, now: float) -> float:
    """The gateway's GPS time when it has one (``tmms``, then ``time``), else the moment we got it."""
    tmms = _integer(entry, "tmms", path, 0, 2**53)
    if tmms is not None:
        return GPS_EPOCH_UNIX + tmms / 1000.0 - GPS_LEAP_SECONDS
    text = entry.get("time")
    if text is None:
        return now
    if not isinstance(text, str):
        raise IngestError(f"{path}.time", "not a string")
    match = _ISO.fullmatch(text)
    if match is None:
        raise IngestError(f"{path}.time", "not an ISO 8601 UTC time")
    fraction = match.group(7) or "0"
    return _utc(match.groups()[:6], f"{path}.time") + int(fraction) / 10 ** len(fraction)


def _spreading_factor(entry: dict[str, Any], path: str) -> int | None:
    """7 from "SF7BW125"; FSK frames give a bit rate number instead and have none."""
    datr = entry.get("datr")
    if datr is None or (isinstance(datr, int | float) and not isinstance(datr, bool)):
        return None
    match = _DATR.fullmatch(datr) if isinstance(datr, str) else None
    if match is None or not 5 <= int(match.group(1)) <= 12:
        raise IngestError(f"{path}.datr", "not a LoRa data rate like SF7BW125")
    return int(match.group(1))


def _stats(stat: object, gateway: str, now: float) -> MastStats:
    if not isinstance(stat, dict):
        raise IngestError("stat", "not an object")
    counter = 2**63
    return MastStats(
        gateway=gateway,
        at=_stat_time(stat, now),
        received=_integer(stat, "rxnb", "stat", 0, counter),
        received_ok=_integer(stat, "rxok", "stat", 0, counter),
        forwarded=_integer(stat, "rxfw", "stat", 0, counter),
        downlinks=_integer(stat, "dwnb", "stat", 0, counter),
        transmitted=_integer(stat, "txnb", "stat", 0, counter),
        latitude=_number(stat, "lati", "stat", -90.0, 90.0),
        longitude=_number(stat, "long", "stat", -180.0, 180.0),
        altitude=_number(stat, "alti", "stat", -12_000.0, 12_000.0),
    )


def _stat_time(stat: dict[str, Any], now: float) -> float:
    """The status object's own time, "2014-01-12 08:59:28 GMT"."""
    text = stat.get("time")
    if text is None:
        return now
    match = _STAT_TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise IngestError("stat.time", 'not a time like "2014-01-12 08:59:28 GMT"')
    return _utc(match.groups(), "stat.time")


def _utc(parts: tuple[str | Any, ...], path: str) -> float:
    year, month, day, hour, minute, second = (int(p) for p in parts)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()
    except ValueError:
        raise IngestError(path, "not a calendar date and time") from None


def _tx_error(body: bytes) -> str | None:
    """The forwarder's reason for not sending a downlink; an empty body or "NONE" means it went out."""
    if not body.strip(b"\x00 \r\n\t"):
        return None
    ack_body = _json_object(body).get("txpk_ack")
    if not isinstance(ack_body, dict):
        raise IngestError("txpk_ack", "not an object")
    error = ack_body.get("error")
    if error is None or error == "NONE":
        return None
    if not isinstance(error, str) or len(error) > 64:
        raise IngestError("txpk_ack.error", "not a short string")
    return error


def _number(obj: dict[str, Any], key: str, path: str, lo: float, hi: float) -> float | None:
    """A finite JSON number within [lo, hi], or None when absent; JSON true/false are not numbers."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IngestError(f"{path}.{key}", "not a number")
    try:
        number = float(value)
    except OverflowError:
        raise IngestError(f"{path}.{key}", "out of range") from None
    if not math.isfinite(number) or not lo <= number <= hi:
        raise IngestError(f"{path}.{key}", f"{value!r:.40} is not within {lo:g} to {hi:g}")
    return number


def _integer(obj: dict[str, Any], key: str, path: str, lo: int, hi: int) -> int | None:
    """A JSON integer within [lo, hi], or None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise IngestError(f"{path}.{key}", "not an integer")
    if not lo <= value <= hi:
        raise IngestError(f"{path}.{key}", f"not within {lo} to {hi}")
    return value


class ForwarderProtocol(asyncio.DatagramProtocol):
    """The UDP server the gateways talk to: acknowledges, hands frames and stats on, sends downlinks.

    Nothing a datagram holds and nothing a callback raises may stop the server: a bad datagram is
    counted under ``refused:<field>`` and dropped, a callback's exception is logged and counted."""

    def __init__(
        self,
        on_uplink: Callable[[Uplink], None],
        on_stats: Callable[[MastStats], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.on_uplink, self.on_stats, self.clock = on_uplink, on_stats, clock
        self.counts: Counter[str] = Counter()
        self.pull_addresses: dict[str, tuple[str, int]] = {}
        self._pull_versions: dict[str, int] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # not a subclass on 3.11's selector loop

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.counts["datagrams"] += 1
        try:
            datagram = parse_datagram(data, now=self.clock())
        except IngestError as error:
            self.counts[f"refused:{error.field}"] += 1
            log.debug("GWMP datagram from %s refused: %s", addr, error)
            return
        except Exception:  # a decoder bug must not take the port down
            self.counts["refused:internal"] += 1
            log.exception("GWMP datagram from %s could not be decoded", addr)
            return
        self._answer(datagram, addr)
        self._deliver(datagram)

    def error_received(self, exc: Exception) -> None:
        """An ICMP error for an earlier send (a gateway gone away): counted, the server carries on."""
        self.counts["socket_errors"] += 1
        log.warning("GWMP socket error: %s", exc)

    def send_down(self, gateway: str, txpk: Mapping[str, object]) -> bool:
        """Send a downlink through ``gateway``; False when it never sent PULL_DATA (no route to it)."""
        addr = self.pull_addresses.get(gateway)
        if addr is None or self.transport is None:
            return False
        datagram = pull_resp(self._pull_versions[gateway], random.getrandbits(16), txpk)
        self.transport.sendto(datagram, addr)
        self.counts["downlinks"] += 1
        return True

    def _answer(self, datagram: Datagram, addr: tuple[str | Any, int]) -> None:
        if datagram.kind == PULL_DATA:
            self.pull_addresses[datagram.gateway] = addr
            self._pull_versions[datagram.gateway] = datagram.version
        answer = ack(datagram)
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)

    def _deliver(self, datagram: Datagram) -> None:
        if datagram.kind == TX_ACK and datagram.tx_error is not None:
            self.counts["tx_errors"] += 1
            log.warning("gateway %s did not send a downlink: %s", datagram.gateway, datagram.tx_error)
        for uplink in datagram.uplinks:
            if not uplink.crc_ok:
                self.counts["bad_crc"] += 1
                continue
            self.counts["uplinks"] += 1
            self._call(self.on_uplink, uplink)
        if datagram.stats is not None:
            self.counts["stats"] += 1
            self._call(self.on_stats, datagram.stats)

    def _call(self, callback: Callable[[Any], None], value: object) -> None:
        try:
            callback(value)
        except Exception:
            self.counts["callback_errors"] += 1
            log.exception("GWMP callback %r failed", callback)


RECEIVE_BUFFER = 4 * 1024 * 1024  # bursts from many masts wait here while the loop is busy


async def serve_udp(
    protocol: ForwarderProtocol, host: str = "0.0.0.0", port: int = 1700
) -> asyncio.DatagramTransport:
    """Listen for gateways; close the returned transport to stop. The socket's receive buffer is made
    large (the kernel caps it at ``net.core.rmem_max``; the size granted is logged), so a burst of
    datagrams waits in the kernel instead of being dropped while the event loop runs the engine."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: protocol, local_addr=(host, port))
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        except OSError as error:
            log.warning("GWMP: could not enlarge the receive buffer: %s", error)
        granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        protocol.counts["receive_buffer_bytes"] = granted
        if granted < RECEIVE_BUFFER:
            log.info("GWMP: receive buffer %d bytes (raise net.core.rmem_max for more)", granted)
    return transport
