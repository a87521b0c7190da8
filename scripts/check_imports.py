"""Check the import rules with import-linter, the contracts written from the desk registry, so a new
desk is covered without editing any list: a desk imports the core, never another desk; the core
imports no desk and none of the modules that assemble the product."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from tocsin.desks import KNOWN

ASSEMBLY = ["tocsin.app", "tocsin.cli", "tocsin.demo", "tocsin.desks", "tocsin.jobs", "tocsin.serving"]


def listed(names: list[str]) -> str:
    return "\n".join(f"    {name}" for name in names)


def contracts() -> str:
    desks = [path.rsplit(".", 1)[0] for path in KNOWN.values()]
    return f"""[importlinter]
root_package = tocsin

[importlinter:contract:desks]
name = Desks are independent of each other
type = independence
modules =
{listed(desks)}

[importlinter:contract:core]
name = Core imports no desk and nothing that assembles the product
type = forbidden
source_modules =
    tocsin.core
forbidden_modules =
{listed(desks + ASSEMBLY)}
"""


def main() -> int:
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as config:
        config.write(contracts())
    try:
        lint = Path(sys.executable).with_name("lint-imports")
        return subprocess.call([str(lint), "--config", config.name, "--no-cache"])
    finally:
        Path(config.name).unlink()


if __name__ == "__main__":
    sys.exit(main())
