"""Issue 11's ratio targets, checked against a bench/run.py report (read by run.py and chart.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common import FLOOR_LAYERS, Kind, floor_mode


@dataclass(frozen=True)
class Target:
    title: str
    part: str  # the part of a backend's report: "inprocess" or "server"
    mode: str  # the request kind, as in "league:first"
    field: str  # the row's figure: the ratio to the unkeyed baseline of the same run
    limits: dict[str, float]  # per backend name
    at_most: bool  # True: the figure must stay at or below the limit; False: at or above

    def limit(self, backend: str) -> float | None:
        return self.limits.get(backend)

    def met(self, value: float, limit: float) -> bool:
        return value <= limit if self.at_most else value >= limit


def _sqlite_pg(sqlite: float, postgres: float) -> dict[str, float]:
    return {"sqlite-full": sqlite, "sqlite-normal": sqlite, "postgres": postgres}


TARGETS = [
    Target(
        "first request / unkeyed, in-process time",
        "inprocess",
        "first",
        "ratio",
        _sqlite_pg(1.10, 1.10),
        at_most=True,
    ),
    Target(
        "replay / unkeyed, in-process time",
        "inprocess",
        "replay",
        "ratio",
        _sqlite_pg(0.35, 0.5),
        at_most=True,
    ),
    Target(
        "replay throughput under load / unkeyed",
        "server",
        "replay",
        "rps_ratio",
        _sqlite_pg(4, 2),
        at_most=False,
    ),
]


def find_row(part: dict[str, Any], target: Target, layer: str = "league") -> dict | None:
    """The row of ``layer``'s kind for ``target`` in one backend's report, if it was measured."""
    return _row(part, target.part, f"{layer}:{target.mode}")


def _row(part: dict[str, Any], section: str, kind: str) -> dict | None:
    for row in part.get(section) or []:
        if row["kind"] == kind:
            return row
    return None


def floors(part: dict[str, Any], target: Target) -> dict[str, float]:
    """For a replay target: the same figure for the floors (bench/common.py, FLOOR_LAYERS),
    the best any answer reaches in that harness, however little it does."""
    if target.mode != "replay":
        return {}
    found = {}
    for layer in FLOOR_LAYERS:
        row = _row(part, target.part, Kind(layer, floor_mode(layer)).name)
        if row is not None:
            found[layer] = row[target.field]
    return found


def evaluate(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per target and measured backend: the figure, its runs, the limit, met or not."""
    results = []
    for target in TARGETS:
        for name, part in report["backends"].items():
            row, limit = find_row(part, target), target.limit(name)
            if row is None or limit is None:
                continue
            value = row[target.field]
            results.append(
                {
                    "target": target.title,
                    "backend": name,
                    "label": part["label"],
                    "value": value,
                    "runs": row.get(f"{target.field}_runs", [value]),
                    "limit": limit,
                    "at_most": target.at_most,
                    "met": target.met(value, limit),
                    "floors": floors(part, target),
                }
            )
    return results
