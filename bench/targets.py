"""Issue 11's ratio targets, checked against a bench/run.py report (read by run.py and chart.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    for row in part.get(target.part) or []:
        if row["kind"] == f"{layer}:{target.mode}":
            return row
    return None


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
                }
            )
    return results
