"""The headline ratios of bench/results.json as a PNG: league_api against idemkit + Redis.

    .venv/bin/python bench/chart.py     # reads bench/results.json, writes docs/benchmark.png

matplotlib is a benchmark-only dependency: ``bench/run.py --install`` puts it into bench/.deps
(``pip install --target bench/.deps matplotlib``), never into the project's requirements.
run.py calls ``draw`` after a full run when matplotlib can be imported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PNG = BENCH_DIR.parent / "docs" / "benchmark.png"
LAYERS = {"league": "league_api", "idemkit-redis": "idemkit + Redis"}
# (title, part of results.json, mode, value field, targets per backend or None)
PANELS = [
    ("first request / unkeyed, in-process time", "inprocess", "first", "ratio", 1.10),
    ("replay / unkeyed, in-process time", "inprocess", "replay", "ratio", (0.35, 0.35, 0.5)),
    ("replay throughput under load / unkeyed", "server", "replay", "rps_ratio", (4, 4, 2)),
]


def draw(report: dict[str, Any], path: Path = PNG) -> Path:
    from compare import add_deps_to_path

    add_deps_to_path()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = list(report["backends"])
    labels = [report["backends"][name]["label"].replace(", ", "\n") for name in backends]
    figure, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 4.2))
    for axis, (title, part, mode, field, target) in zip(axes, PANELS, strict=True):
        width = 0.8 / len(LAYERS)
        for index, (layer, name) in enumerate(LAYERS.items()):
            values = []
            for backend in backends:
                rows = report["backends"][backend].get(part) or []
                found = [row[field] for row in rows if row["kind"] == f"{layer}:{mode}"]
                values.append(found[0] if found else 0)
            xs = [x + (index - (len(LAYERS) - 1) / 2) * width for x in range(len(backends))]
            bars = axis.bar(xs, values, width, label=name)
            axis.bar_label(bars, fmt="%.2f", fontsize=8)
        targets = target if isinstance(target, tuple) else (target,) * len(backends)
        for x, value in enumerate(targets[: len(backends)]):
            axis.hlines(value, x - 0.45, x + 0.45, colors="black", linestyles="dashed")
        axis.axhline(1.0, color="grey", linewidth=0.6)
        axis.set_xticks(range(len(backends)), labels, fontsize=8)
        axis.set_title(title, fontsize=9)
    axes[0].legend(fontsize=8)
    date = report["environment"].get("date", "")
    figure.suptitle(f"Ratios to the unkeyed request in the same run (dashed: target), {date}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(BENCH_DIR))
    print(draw(json.loads((BENCH_DIR / "results.json").read_text())))
