"""How good is a critic on held-out trajectories.

- `auc`, `brier`: the value at the final turn's marker against success (resolved).
- `spearman`: rank correlation of every per-turn value against that turn's discounted Monte Carlo
  return gamma^(T-1-t) * R (with gamma = 1, simply the outcome of its run).
- `calibration`: final values in equal-width bins: count, mean value, observed success rate.
"""

from __future__ import annotations

import math
from typing import Any


def value_metrics(
    final_values: list[float],
    outcomes: list[bool],
    step_values: list[float],
    step_returns: list[float],
    bins: int = 10,
) -> dict[str, Any]:
    """AUC, Brier, Spearman and a calibration table (see the module doc)."""
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    ys = [float(o) for o in outcomes]
    auc = float(roc_auc_score(ys, final_values)) if 0 < sum(ys) < len(ys) else None
    brier = sum((v - y) ** 2 for v, y in zip(final_values, ys, strict=True)) / len(ys) if ys else None
    spearman = None
    if len(set(step_values)) > 1 and len(set(step_returns)) > 1:
        rho = float(spearmanr(step_values, step_returns).statistic)
        spearman = None if math.isnan(rho) else rho
    table = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [
            (v, y)
            for v, y in zip(final_values, ys, strict=True)
            if lo <= v < hi or (b == bins - 1 and v == 1.0)
        ]
        if members:
            table.append(
                {
                    "lo": lo,
                    "hi": hi,
                    "count": len(members),
                    "mean_value": sum(v for v, _ in members) / len(members),
                    "success_rate": sum(y for _, y in members) / len(members),
                }
            )
    return {
        "n": len(ys),
        "positives": int(sum(ys)),
        "auc": auc,
        "brier": brier,
        "spearman": spearman,
        "calibration": table,
    }


def print_metrics(metrics: dict[str, Any], title: str = "critic metrics", console: Any = None) -> None:
    """A rich summary line table plus the calibration table."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()

    def fmt(x: Any) -> str:
        return "n/a" if x is None else f"{x:.4f}" if isinstance(x, float) else str(x)

    summary = Table(title=title)
    for key in ("n", "positives", "auc", "brier", "spearman", "train_loss"):
        if key in metrics:
            summary.add_column(key)
    summary.add_row(
        *[
            fmt(metrics[k])
            for k in ("n", "positives", "auc", "brier", "spearman", "train_loss")
            if k in metrics
        ]
    )
    console.print(summary)
    if metrics.get("calibration"):
        cal = Table(title="calibration (final-turn value)")
        for col in ("bin", "count", "mean value", "success rate"):
            cal.add_column(col)
        for row in metrics["calibration"]:
            cal.add_row(
                f"[{row['lo']:.1f}, {row['hi']:.1f})",
                str(row["count"]),
                fmt(row["mean_value"]),
                fmt(row["success_rate"]),
            )
        console.print(cal)
