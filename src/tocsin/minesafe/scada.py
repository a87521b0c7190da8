"""The ingestion's live state over OPC UA, for the SCADA package (MasterSCADA) that draws the mine's
dispatch mimic diagram: trackers, alarms (with an ``Acknowledge`` method) and masts, as readable tags.

One asyncua server on the ingestion's event loop. Every ``every_s`` seconds ``refresh`` reads the trackers
and the open or recent alarms in one short read transaction (on a worker thread, so the loop that feeds
the engine never waits for the database), the masts' health from the ``IngestService``, and writes only
the values that changed; subscribed SCADA clients are told of those changes by asyncua."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from asyncua import Node, Server, ua
from sqlalchemy import or_, select

from tocsin.core.clock import Clock, utc_now
from tocsin.core.db import Database
from tocsin.minesafe import store
from tocsin.minesafe.ingest.service import MastHealth
from tocsin.minesafe.models import Alarm, Tracker

log = logging.getLogger(__name__)

NAMESPACE = "urn:tocsin:minesafe"
PATH = "/tocsin/minesafe/"
RECENT = timedelta(hours=1)  # a cleared alarm stays in the address space this long
V = ua.VariantType
TRACKER_TAGS: dict[str, ua.VariantType] = {
    "Kind": V.String,
    "Label": V.String,
    "Latitude": V.Double,
    "Longitude": V.Double,
    "X": V.Double,
    "Y": V.Double,
    "SpeedMps": V.Double,
    "HeadingDeg": V.Double,
    "BatteryPercent": V.Double,
    "LastFix": V.DateTime,
    "Silent": V.Boolean,
    "Sos": V.Boolean,
}
ALARM_TAGS: dict[str, ua.VariantType] = {
    "Type": V.String,
    "Level": V.String,
    "State": V.String,
    "Trackers": V.String,  # the tracker ids, comma-separated (a scalar binds in any SCADA)
    "Zone": V.String,
    "RaisedAt": V.DateTime,
    "AcknowledgedAt": V.DateTime,
    "AcknowledgedBy": V.String,
    "ClearedAt": V.DateTime,
}
MAST_TAGS: dict[str, ua.VariantType] = {
    "Online": V.Boolean,
    "LastHeard": V.DateTime,
    "Rssi": V.Double,
    "Snr": V.Double,
    "RxReceived": V.UInt32,
    "RxOk": V.UInt32,
}
_UINT32 = 2**32 - 1
_INTEGERS = {V.SByte, V.Byte, V.Int16, V.UInt16, V.Int32, V.UInt32, V.Int64, V.UInt64}


class Refused(Exception):
    """An Acknowledge call answered with a Bad status code; the reason goes to the log."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass
class State:
    """One read of the database: each tracker's and each open or recent alarm's tag values."""

    trackers: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # id → (site, tags)
    alarms: dict[int, dict[str, Any]] = field(default_factory=dict)


def read_state(database: Database, *, now: datetime) -> State:
    """Trackers and the alarms open or cleared within ``RECENT``, in one read transaction."""
    state = State()
    with database.session() as db:
        for t in db.execute(select(Tracker.__table__)).mappings():
            state.trackers[t["id"]] = (t["site"], _tracker_tags(t))
        recent = or_(Alarm.state.in_(store.OPEN), Alarm.cleared_at >= now - RECENT)
        for a in db.execute(select(Alarm.__table__).where(recent)).mappings():
            state.alarms[a["id"]] = _alarm_tags(a)
    return state


def _tracker_tags(t: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "Kind": t["kind"],
        "Label": t["label"],
        "Latitude": t["latitude"],
        "Longitude": t["longitude"],
        "X": t["x"],
        "Y": t["y"],
        "SpeedMps": t["speed"],
        "HeadingDeg": t["heading"],
        "BatteryPercent": t["battery_percent"],
        "LastFix": t["last_at"],
        "Silent": bool(t["silent"]),
        "Sos": bool(t["sos"]),
    }


def _alarm_tags(a: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "Type": a["type"],
        "Level": a["level"],
        "State": a["state"],
        "Trackers": ",".join(a["trackers"] or []),
        "Zone": a["zone"],
        "RaisedAt": a["raised_at"],
        "AcknowledgedAt": a["acknowledged_at"],
        "AcknowledgedBy": a["acknowledged_by"],
        "ClearedAt": a["cleared_at"],
    }


def _mast_tags(health: MastHealth) -> dict[str, Any]:
    stats = health.stats
    return {
        "Online": health.online,
        "LastHeard": None if health.last_heard is None else datetime.fromtimestamp(health.last_heard, UTC),
        "Rssi": health.last_rssi,
        "Snr": health.last_snr,
        "RxReceived": None if stats is None or stats.received is None else min(stats.received, _UINT32),
        "RxOk": None if stats is None or stats.received_ok is None else min(stats.received_ok, _UINT32),
    }


def _value(value: Any, kind: ua.VariantType) -> ua.DataValue:
    """A tag's value; an unknown one (no fix yet…) is a null with Bad_WaitingForInitialData,
    which a SCADA shows as "no data" rather than as a zero."""
    if value is None:
        return ua.DataValue(ua.Variant(), _status(ua.StatusCodes.BadWaitingForInitialData))
    return ua.DataValue(ua.Variant(float(value) if kind == V.Double else value, kind))


class Scada:
    """The OPC UA server: ``start``, then ``run`` (refresh every ``every_s`` until cancelled), ``stop``.

    ``masts`` is the ingestion service's ``masts`` (read on the event loop, where it is written)."""

    def __init__(
        self,
        database: Database,
        *,
        host: str = "0.0.0.0",
        port: int = 4840,
        masts: Mapping[str, MastHealth] | None = None,
        sites: Sequence[str] = (),
        every_s: float = 0.5,
        clock: Clock = utc_now,
    ) -> None:
        self.database, self.every_s, self.clock = database, every_s, clock
        self.masts = {} if masts is None else masts  # the service's own dict, empty until a mast is heard
        self.endpoint = f"opc.tcp://{host}:{port}{PATH}"
        self.server = Server()
        self.ns = 0
        self.refreshes = 0
        self.failures = 0
        self.last_refresh_s = 0.0  # how long the last refresh took
        self._sites = list(sites)
        self._folders: dict[str, Node] = {}
        self._shown: dict[str, Any] = {}  # NodeId string → the value last written
        self._trackers: set[str] = set()
        self._alarms: dict[int, Node] = {}
        self._mast_nodes: set[str] = set()

    def node_id(self, name: str) -> ua.NodeId:
        """The readable NodeId of a node of ours ("Minesafe.Trackers.quarry:7.Latitude")."""
        return ua.NodeId(ua.String(name), ua.Int16(self.ns))

    async def start(self) -> None:
        """Listen; the fixed part of the address space (Minesafe, Sites, Alarms, Masts) is built."""
        server = self.server
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("Tocsin minesafe")
        # A quarry LAN behind the mine's firewall, as the other transports (UDP 1700, OsmAnd 5055).
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self.ns = await server.register_namespace(NAMESPACE)
        root = await self._object(server.nodes.objects, "Minesafe", "Minesafe")
        await self._variable(root, "Minesafe.RefreshedAt", "RefreshedAt", V.DateTime)
        for name in ("Sites", "Alarms", "Masts"):
            self._folders[name] = await root.add_folder(self.node_id(f"Minesafe.{name}"), self._name(name))
        await self._folders["Alarms"].add_method(
            self.node_id("Minesafe.Alarms.Acknowledge"),
            self._name("Acknowledge"),
            self._acknowledge_by_id,
            [_argument("AlarmId", V.Int64, "The alarm's number"), _operator()],
            [_argument("AcknowledgedBy", V.String, "Who has the alarm in hand")],
        )
        for site in self._sites:
            await self._site_folder(site)
        await server.start()

    async def stop(self) -> None:
        await self.server.stop()

    async def run(self) -> None:
        """Refresh every ``every_s`` until cancelled; a failed refresh (the database away for a moment)
        is logged and the next one tried, so the ingestion never stops because of its SCADA."""
        failing = False
        while True:
            started = time.monotonic()
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures += 1
                if not failing:  # once per outage, not twice a second
                    log.exception("OPC UA refresh failed")
                failing = True
            else:
                failing = False
            await asyncio.sleep(max(0.0, self.every_s - (time.monotonic() - started)))

    async def refresh(self) -> None:
        """One round: read the database off the loop, add new nodes, write what changed, drop alarms
        cleared more than ``RECENT`` ago."""
        started = time.monotonic()
        now = self.clock()
        state = await asyncio.to_thread(read_state, self.database, now=now)
        for tracker, (site, tags) in state.trackers.items():
            if tracker not in self._trackers:
                await self._add(
                    await self._site_folder(site), f"Minesafe.Trackers.{tracker}", tracker, TRACKER_TAGS
                )
                self._trackers.add(tracker)
            await self._write(f"Minesafe.Trackers.{tracker}", tags, TRACKER_TAGS)
        for alarm_id, tags in state.alarms.items():
            if alarm_id not in self._alarms:
                self._alarms[alarm_id] = await self._add_alarm(alarm_id)
            await self._write(f"Minesafe.Alarms.{alarm_id}", tags, ALARM_TAGS)
        for alarm_id in sorted(set(self._alarms) - set(state.alarms)):
            await self.server.delete_nodes([self._alarms.pop(alarm_id)], recursive=True)
            prefix = f"Minesafe.Alarms.{alarm_id}."
            self._shown = {k: v for k, v in self._shown.items() if not k.startswith(prefix)}
        for gateway, health in list(self.masts.items()):
            if gateway not in self._mast_nodes:
                await self._add(self._folders["Masts"], f"Minesafe.Masts.{gateway}", gateway, MAST_TAGS)
                self._mast_nodes.add(gateway)
            await self._write(f"Minesafe.Masts.{gateway}", _mast_tags(health), MAST_TAGS)
        await self._write("Minesafe", {"RefreshedAt": now}, {"RefreshedAt": V.DateTime}, always=True)
        self.refreshes += 1
        self.last_refresh_s = time.monotonic() - started

    async def _write(
        self, prefix: str, tags: dict[str, Any], kinds: dict[str, ua.VariantType], always: bool = False
    ) -> None:
        for name, value in tags.items():
            key = f"{prefix}.{name}"
            if not always and key in self._shown and self._shown[key] == value:
                continue
            self._shown[key] = value
            await self.server.write_attribute_value(self.node_id(key), _value(value, kinds[name]))

    def _name(self, name: str) -> ua.QualifiedName:
        return ua.QualifiedName(name, self.ns)

    async def _object(self, parent: Node, node_id: str, name: str) -> Node:
        return await parent.add_object(self.node_id(node_id), self._name(name))

    async def _site_folder(self, site: str) -> Node:
        """Sites/<site>/Trackers, made the first time the site is seen."""
        key = f"Sites.{site}"
        if key not in self._folders:
            site_node = await self._object(self._folders["Sites"], f"Minesafe.Sites.{site}", site)
            self._folders[key] = await site_node.add_folder(
                self.node_id(f"Minesafe.Sites.{site}.Trackers"), self._name("Trackers")
            )
        return self._folders[key]

    async def _add(self, parent: Node, node_id: str, name: str, kinds: dict[str, ua.VariantType]) -> Node:
        """An object and its variables, each starting as "no data" until its first value is written."""
        node = await self._object(parent, node_id, name)
        try:
            for tag, kind in kinds.items():
                await self._variable(node, f"{node_id}.{tag}", tag, kind)
        except Exception:  # none half-built: the next refresh builds it again from nothing
            await self.server.delete_nodes([node], recursive=True)
            raise
        # Building a thousand trackers' nodes takes seconds: let the engine's windows close meanwhile.
        await asyncio.sleep(0)
        return node

    async def _variable(self, parent: Node, node_id: str, name: str, kind: ua.VariantType) -> Node:
        """A read-only variable of ``kind``; its data type is fixed even while it has no value."""
        return await parent.add_variable(
            self.node_id(node_id), self._name(name), ua.get_default_value(kind), kind, _type_id(kind)
        )

    async def _add_alarm(self, alarm_id: int) -> Node:
        node = await self._add(
            self._folders["Alarms"], f"Minesafe.Alarms.{alarm_id}", str(alarm_id), ALARM_TAGS
        )
        await node.add_method(
            self.node_id(f"Minesafe.Alarms.{alarm_id}.Acknowledge"),
            self._name("Acknowledge"),
            self._acknowledge_this,
            [_operator()],
            [_argument("AcknowledgedBy", V.String, "Who has the alarm in hand")],
        )
        return node

    async def _acknowledge_this(self, parent: ua.NodeId, *args: ua.Variant) -> Any:
        """``Alarms/<id>/Acknowledge(Operator)``: the alarm is the object the method is called on."""
        identifier = str(parent.Identifier) if parent.NamespaceIndex == self.ns else ""
        number = identifier.removeprefix("Minesafe.Alarms.")
        if number == identifier or not number.isdigit():
            return _refused(Refused(ua.StatusCodes.BadNotFound, f"{parent} is no alarm"))
        return await self._acknowledge(int(number), args, first=0)

    async def _acknowledge_by_id(self, parent: ua.NodeId, *args: ua.Variant) -> Any:
        """``Alarms/Acknowledge(AlarmId, Operator)``: for a SCADA button bound to an alarm number."""
        try:
            if not args:
                raise Refused(ua.StatusCodes.BadArgumentsMissing, "AlarmId and Operator are needed")
            alarm_id = args[0]
            if alarm_id.VariantType not in _INTEGERS or isinstance(alarm_id.Value, bool):
                raise Refused(ua.StatusCodes.BadTypeMismatch, "AlarmId is an integer")
        except Refused as refused:
            return _refused(refused)
        return await self._acknowledge(int(alarm_id.Value), args, first=1)

    async def _acknowledge(self, alarm_id: int, args: tuple[ua.Variant, ...], *, first: int) -> Any:
        try:
            operator = _operator_of(args[first:])
            tags = await asyncio.to_thread(self._acknowledge_in_db, alarm_id, operator)
            if alarm_id in self._alarms:
                await self._write(f"Minesafe.Alarms.{alarm_id}", tags, ALARM_TAGS)
            return [ua.Variant(tags["AcknowledgedBy"], V.String)]
        except Refused as refused:
            return _refused(refused)
        except Exception:
            log.exception("OPC UA Acknowledge of alarm %s failed", alarm_id)
            return _status(ua.StatusCodes.BadInternalError)

    def _acknowledge_in_db(self, alarm_id: int, operator: str) -> dict[str, Any]:
        with self.database.session() as db:
            alarm = db.get(Alarm, alarm_id, with_for_update=True) if 0 < alarm_id < 2**63 else None
            if alarm is None:
                raise Refused(ua.StatusCodes.BadNotFound, f"no alarm {alarm_id}")
            if alarm.state == store.CLEARED:
                raise Refused(ua.StatusCodes.BadInvalidState, f"alarm {alarm_id} is cleared")
            alarm = store.acknowledge(db, alarm_id, by=operator, now=self.clock())
            return _alarm_tags({c.key: getattr(alarm, c.key) for c in Alarm.__table__.columns})


def _operator_of(args: tuple[ua.Variant, ...]) -> str:
    if not args:
        raise Refused(ua.StatusCodes.BadArgumentsMissing, "Operator is needed")
    if len(args) > 1:
        raise Refused(ua.StatusCodes.BadTooManyArguments, "only Operator is expected")
    operator = args[0]
    if operator.VariantType != V.String or not isinstance(operator.Value, str):
        raise Refused(ua.StatusCodes.BadTypeMismatch, "Operator is a String")
    if not operator.Value.strip():
        raise Refused(ua.StatusCodes.BadInvalidArgument, "Operator is empty")
    return operator.Value.strip()


def _refused(refused: Refused) -> ua.StatusCode:
    log.info("OPC UA Acknowledge refused: %s", refused)
    return _status(refused.code)


def _status(code: int) -> ua.StatusCode:
    return ua.StatusCode(ua.UInt32(code))


def _type_id(kind: ua.VariantType) -> ua.NodeId:
    """The data type node of a built-in type (its number is the variant type's)."""
    return ua.NodeId(ua.Int32(kind.value))


def _argument(name: str, kind: ua.VariantType, description: str) -> ua.Argument:
    argument = ua.Argument()
    argument.Name, argument.DataType, argument.ValueRank = name, _type_id(kind), -1
    argument.Description = ua.LocalizedText(description)
    return argument


def _operator() -> ua.Argument:
    return _argument("Operator", V.String, "Who acknowledges (kept in the alarm and the audit log)")
