"""Frames and datagrams as masts send them, for the ingestion tests."""

from __future__ import annotations

import base64
import json
import secrets

from tocsin.minesafe.codec import encode_tracker, packet_from_report
from tocsin.minesafe.ingest import simulated
from tocsin.minesafe.model import Kind, Report
from tocsin.minesafe.site import load_example_site

SITE = load_example_site()
START = 1_796_000_000.0
UDP_MAST = simulated.gateway_eui(SITE, 1)


def truck_frame(x: float, y: float, seq: int) -> bytes:
    report = Report(t=0.0, tracker=SITE.tracker_key(0), kind=Kind.HAUL_TRUCK, x=x, y=y, speed=8.0)
    return encode_tracker(packet_from_report(report, site=SITE, seq=seq))


def push_data(frame: bytes, at: float) -> bytes:
    """A PUSH_DATA datagram as the packet forwarder sends it."""
    gps_ms = int((at - 315_964_800 + 18) * 1000)
    rxpk = {"tmms": gps_ms, "freq": 868.9, "stat": 1, "modu": "LORA", "datr": "SF7BW125", "codr": "4/5"}
    rxpk |= {"rssi": -80, "lsnr": 7.0, "size": len(frame), "data": base64.b64encode(frame).decode()}
    body = json.dumps({"rxpk": [rxpk]}).encode()
    return b"\x02" + secrets.token_bytes(2) + b"\x00" + bytes.fromhex(UDP_MAST) + body
