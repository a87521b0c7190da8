"""The OI's M1 rules without HTTP: parse + ``receive_declaration`` in one transaction, CPU per M1.

    .venv/bin/python bench/interventions_rules.py [--postgresql] [--count N]

Separates the cost of the rules and the ORM from the web layer's (``bench/interventions.py`` measures
through the real server). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

from harness import emit, machine, run_until_signalled, scratch_database
from tocsin.core.db import Database
from tocsin.core.migrate import upgrade
from tocsin.interventions.config import apply_config, parse_config
from tocsin.interventions.oi import service
from tocsin.interventions.schemas import InterventionDO, parse

CONFIG = {
    "self": {"code": "OIAA", "roles": ["OI"]},
    "partners": [{"code": f"OC{c}{c}", "roles": ["OC"], "url": "http://127.0.0.1:9/v1"} for c in "ABC"],
    "pms": [{"ref": "FI-12345-0001", "ocs": ["OCAA", "OCBB", "OCCC"]}],
}


def body(ref: str, now: datetime) -> bytes:
    return json.dumps(
        {
            "Code_DO": "DOXX",
            "Code_OI": "OIAA",
            "Ref_Interv_DO": ref,
            "PM": "FI-12345-0001",
            "Nature_PBO_PTO": [{"nature": 1, "PBO": "PT0012345"}],
            "Debut_Inter": now.isoformat(),
        }
    ).encode()


def measure(database: Database, count: int) -> dict[str, float]:
    """CPU and wall milliseconds per accepted M1 (each creating an intervention and three messages)."""
    now = datetime.now(UTC)

    def one(ref: str) -> None:
        message = parse(InterventionDO, body(ref, now))
        with database.session() as db:
            service.receive_declaration(db=db, message=message, sender="DOXX", now=now)

    for i in range(50):
        one(f"WARM-{i}")
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(count):
        one(f"R-{i}")
    return {
        "m1": count,
        "cpu_ms_per_m1": round((time.process_time() - cpu) * 1000 / count, 2),
        "wall_ms_per_m1": round((time.perf_counter() - wall) * 1000 / count, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgresql", action="store_true", help="also measure on a fresh PostgreSQL database"
    )
    parser.add_argument("--count", type=int, default=400)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.postgresql else ["sqlite"]
    results: dict[str, object] = {"machine": machine()}
    for kind in kinds:
        with scratch_database(kind, prefix="tocsin_rules") as url:
            results[kind] = run(url, args.count)
    emit(results)


def run(url: str, count: int) -> dict[str, float]:
    database = Database(url)
    upgrade(database)
    with database.session() as db:
        apply_config(db, parse_config(CONFIG))
    try:
        return measure(database, count)
    finally:
        database.engine.dispose()


if __name__ == "__main__":
    run_until_signalled(main)
