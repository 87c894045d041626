"""Issue 11's ratios in bench/results.json as a PNG: league_api against idemkit + Redis.

    .venv/bin/python bench/chart.py     # reads bench/results.json, writes docs/benchmark.png

matplotlib is a benchmark-only dependency: ``bench/run.py --install`` puts it into bench/.deps
(``pip install --target bench/.deps matplotlib``), never into the project's requirements.
run.py calls ``draw`` after a full run when matplotlib can be imported. Bars are the medians over
the runs, whiskers their min-max, dashed lines the targets of bench/targets.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from targets import TARGETS, find_row

BENCH_DIR = Path(__file__).resolve().parent
PNG = BENCH_DIR.parent / "docs" / "benchmark.png"
LAYERS = {"league": "league_api", "idemkit-redis": "idemkit + Redis"}


def draw(report: dict[str, Any], path: Path = PNG) -> Path:
    from compare import add_deps_to_path

    add_deps_to_path()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = list(report["backends"])
    labels = [report["backends"][name]["label"].replace(", ", "\n") for name in backends]
    figure, axes = plt.subplots(1, len(TARGETS), figsize=(5 * len(TARGETS), 4.2))
    width = 0.8 / len(LAYERS)
    for axis, target in zip(axes, TARGETS, strict=True):
        for index, (layer, name) in enumerate(LAYERS.items()):
            values, low, high = [], [], []
            for backend in backends:
                row = find_row(report["backends"][backend], target, layer)
                value = row[target.field] if row else 0
                runs = row.get(f"{target.field}_runs", [value]) if row else [0]
                values.append(value)
                low.append(value - min(runs))
                high.append(max(runs) - value)
            xs = [x + (index - (len(LAYERS) - 1) / 2) * width for x in range(len(backends))]
            whiskers = [low, high] if any(low + high) else None  # none after a single run
            bars = axis.bar(xs, values, width, label=name, yerr=whiskers, capsize=3)
            axis.bar_label(bars, fmt="%.2f", fontsize=8)
        for x, backend in enumerate(backends):
            limit = target.limit(backend)
            if limit is not None:
                axis.hlines(limit, x - 0.45, x + 0.45, colors="black", linestyles="dashed")
        axis.axhline(1.0, color="grey", linewidth=0.6)
        axis.set_xticks(range(len(backends)), labels, fontsize=8)
        axis.set_title(target.title, fontsize=9)
    axes[0].legend(fontsize=8)
    date = report["environment"].get("date", "")
    runs = len(report.get("runs") or [None])
    over = f"medians of {runs} runs (whiskers: min-max)" if runs > 1 else "one run"
    figure.suptitle(
        f"Ratios to the unkeyed request of the same run, {over}; dashed: target; {date}"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(BENCH_DIR))
    print(draw(json.loads((BENCH_DIR / "results.json").read_text())))
