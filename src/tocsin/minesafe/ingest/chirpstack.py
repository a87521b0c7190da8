"""The ChirpStack Gateway Bridge v4 over MQTT: topics and payloads in, downlink commands out.

The bridge publishes each mast's events under ``{region}/gateway/{gatewayId}/event/{up|stats}`` and its
connection state, retained, under ``…/state/conn``; commands go to ``…/command/down``. Payloads are
protobuf by default and protojson with the bridge's JSON marshaler; like ChirpStack, a payload holding
``"gatewayId"`` is read as JSON, anything else as protobuf. The messages are the ``gw`` package of the
official ``chirpstack-api``. Tocsin's tracker frames are not LoRaWAN, so the bridge's topics are read
directly, not through ChirpStack's network server."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from chirpstack_api import gw
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from tocsin.minesafe.ingest.uplinks import IngestError, MastState, MastStats, Uplink

M = TypeVar("M", bound=Message)
MAX_PAYLOAD = 64 * 1024  # an UplinkFrame with a 5-byte frame is a few hundred bytes
_TOPIC = re.compile(
    r"^(?:(?P<region>[A-Za-z0-9_-]{1,32})/)?gateway/(?P<gateway>[0-9A-Fa-f]{16})/"
    r"(?P<group>event|state)/(?P<name>[a-z_]{1,16})$"
)


@dataclass(frozen=True, slots=True)
class Topic:
    """What a bridge topic says: the region prefix ("" when none), the gateway, and the event or state."""

    region: str
    gateway: str
    group: str  # "event" or "state"
    name: str  # up, stats, ack, exec, raw; conn


def parse_topic(topic: str) -> Topic:
    """A bridge topic, or IngestError("topic", …) for anything else."""
    match = _TOPIC.match(topic)
    if match is None:
        raise IngestError("topic", f"not a gateway bridge topic: {topic[:80]!r}")
    return Topic(match["region"] or "", match["gateway"].lower(), match["group"], match["name"])


def subscriptions(region: str, gateways: Iterable[str] | None = None) -> list[str]:
    """What an ingestion process subscribes to for ``region`` ("" for the bridge without a prefix): every
    gateway's events, or only those of ``gateways`` (a process holding some sites only)."""
    prefix = f"{region}/" if region else ""
    names = ["+"] if gateways is None else sorted(gateways)
    return [
        f"{prefix}gateway/{name}/{kind}"
        for name in names
        for kind in ("event/up", "event/stats", "state/conn")
    ]


def down_topic(region: str, gateway: str) -> str:
    """Where a downlink to ``gateway`` is published."""
    prefix = f"{region}/" if region else ""
    return f"{prefix}gateway/{gateway}/command/down"


def decode(topic: str, payload: bytes, *, now: float) -> Uplink | MastStats | MastState | None:
    """One MQTT message of the bridge: an uplink, a mast's stats, its connection state, or None for an
    event Tocsin does not use (ack, exec, raw)."""
    where = parse_topic(topic)
    if where.group == "event" and where.name == "up":
        return uplink(_message(gw.UplinkFrame, payload), where.gateway, now=now)
    if where.group == "event" and where.name == "stats":
        return stats(_message(gw.GatewayStats, payload), where.gateway, now=now)
    if where.group == "state" and where.name == "conn":
        state = _message(gw.ConnState, payload)
        _same_gateway(state.gateway_id, where.gateway, "gatewayId")
        return MastState(where.gateway, state.state == gw.ConnState.State.ONLINE)
    return None


def uplink(frame: gw.UplinkFrame, gateway: str, *, now: float) -> Uplink:
    """An ``UplinkFrame`` as Tocsin's Uplink (the gateway's time when it gives one, else ``now``)."""
    if not frame.phy_payload:
        raise IngestError("phyPayload", "missing")
    rx, tx = frame.rx_info, frame.tx_info
    _same_gateway(rx.gateway_id, gateway, "rxInfo.gatewayId")
    received = rx.gw_time.ToNanoseconds() / 1e9 if rx.HasField("gw_time") else now
    lora = tx.modulation.lora if tx.HasField("modulation") and tx.modulation.HasField("lora") else None
    return Uplink(
        gateway=gateway,
        payload=bytes(frame.phy_payload),
        received=received,
        rssi=float(rx.rssi) if rx.rssi else None,
        snr=float(rx.snr) if rx.snr or rx.rssi else None,
        frequency_hz=tx.frequency or None,
        spreading_factor=lora.spreading_factor if lora is not None else None,
        crc_ok=rx.crc_status != gw.CRCStatus.BAD_CRC,
    )


def stats(message: gw.GatewayStats, gateway: str, *, now: float) -> MastStats:
    """A ``GatewayStats`` as Tocsin's MastStats."""
    _same_gateway(message.gateway_id, gateway, "gatewayId")
    at = message.time.ToNanoseconds() / 1e9 if message.HasField("time") else now
    where = message.location if message.HasField("location") else None
    return MastStats(
        gateway=gateway,
        at=at,
        received=message.rx_packets_received,
        received_ok=message.rx_packets_received_ok,
        downlinks=message.tx_packets_received,
        transmitted=message.tx_packets_emitted,
        latitude=where.latitude if where is not None else None,
        longitude=where.longitude if where is not None else None,
        altitude=where.altitude if where is not None else None,
    )


def downlink(
    payload: bytes,
    *,
    gateway: str,
    downlink_id: int,
    frequency_hz: int,
    spreading_factor: int,
    power_dbm: int,
) -> gw.DownlinkFrame:
    """A ``DownlinkFrame`` sending ``payload`` at once (a buzzer command) from ``gateway``, LoRa 125 kHz."""
    lora = gw.LoraModulationInfo(
        bandwidth=125000,
        spreading_factor=spreading_factor,
        code_rate=gw.CodeRate.CR_4_5,
        polarization_inversion=True,
    )
    tx = gw.DownlinkTxInfo(
        frequency=frequency_hz,
        power=power_dbm,
        modulation=gw.Modulation(lora=lora),
        timing=gw.Timing(immediately=gw.ImmediatelyTimingInfo()),
    )
    item = gw.DownlinkFrameItem(phy_payload=payload, tx_info=tx)
    return gw.DownlinkFrame(downlink_id=downlink_id, gateway_id=gateway, items=[item])


def encode(message: Message, *, json: bool) -> bytes:
    """What the bridge expects, in its configured marshaler (protojson or protobuf)."""
    return json_format.MessageToJson(message).encode() if json else message.SerializeToString()


def _message(kind: type[M], payload: bytes) -> M:
    if len(payload) > MAX_PAYLOAD:
        raise IngestError("payload", f"over {MAX_PAYLOAD} bytes")
    message = kind()
    try:
        if b'"gatewayId"' in payload:
            json_format.Parse(payload.decode("utf-8"), message, ignore_unknown_fields=True)
        else:
            message.ParseFromString(payload)
    except (json_format.ParseError, DecodeError, UnicodeDecodeError, RecursionError) as error:
        raise IngestError("payload", f"not a {kind.__name__}: {str(error)[:120]}") from None
    return message


def _same_gateway(given: str, topic_gateway: str, field: str) -> None:
    """A message names the gateway of its topic (or none)."""
    if given and given.lower() != topic_gateway:
        raise IngestError(field, f"{given[:32]!r} is not the topic's gateway {topic_gateway}")
