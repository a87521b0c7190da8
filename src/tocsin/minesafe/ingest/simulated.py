"""The simulator's masts as ChirpStack Gateway Bridges: what each would publish for what it heard, so the
demo and the tests drive ingestion through MQTT exactly as real masts do."""

from __future__ import annotations

import zlib

from chirpstack_api import gw
from google.protobuf.timestamp_pb2 import Timestamp

from tocsin.minesafe.ingest import chirpstack
from tocsin.minesafe.simulator import HeardPacket, Tick
from tocsin.minesafe.site import Site

SIMULATED_RSSI, SIMULATED_SNR = -92, 6.5


def gateway_eui(site: Site, mast: int) -> str:
    """A simulated mast's gateway EUI: stable per site name and mast id."""
    return f"0016c001{zlib.crc32(site.name.encode()) & 0xFFFF:04x}{mast:04x}"


def gateways(site: Site) -> dict[str, str]:
    """Every simulated mast of ``site``: gateway EUI → site name (``Ingestion``'s ``gateways``)."""
    return {gateway_eui(site, mast.id): site.name for mast in site.masts}


def messages(tick: Tick, site: Site, *, start: float, region: str, json: bool) -> list[tuple[str, bytes]]:
    """(topic, payload) for every packet a mast heard in ``tick`` and every station packet it sent,
    dated ``start`` + the simulator's time."""
    heard = (*tick.packets, *tick.stations)
    return [message(packet, site, start=start, region=region, json=json) for packet in heard]


def message(packet: HeardPacket, site: Site, *, start: float, region: str, json: bool) -> tuple[str, bytes]:
    """(topic, payload) of one packet as its mast's bridge publishes it."""
    gateway = gateway_eui(site, packet.mast)
    at = start + packet.t
    rx = gw.UplinkRxInfo(
        gateway_id=gateway, rssi=SIMULATED_RSSI, snr=SIMULATED_SNR, crc_status=gw.CRCStatus.CRC_OK
    )
    rx.gw_time.CopyFrom(Timestamp(seconds=int(at), nanos=int(round((at % 1) * 1e9)) % 1_000_000_000))
    frame = gw.UplinkFrame(phy_payload=packet.payload, rx_info=rx)
    prefix = f"{region}/" if region else ""
    return f"{prefix}gateway/{gateway}/event/up", chirpstack.encode(frame, json=json)
