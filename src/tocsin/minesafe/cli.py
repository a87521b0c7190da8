"""``tocsin minesafe …``: radio planning, simulation and replay of tracker reports."""

from __future__ import annotations

import typer

app = typer.Typer(help="Mine collision-warning desk: radio planner, simulator, replay.", no_args_is_help=True)
