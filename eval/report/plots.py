"""The plots both reports draw (matplotlib, Agg, imported on use): a plots/ folder of PNGs and the
one Q-by-step plot, drawn by the run report (eval.report.run_report) and by the experiment's
(eval.experiment.render)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

QSeries = dict[str, list[list[float]]]
"""Chosen Q along the steps of each run, by group (resolved, unresolved)."""
QMeans = dict[str, list[dict[str, Any]]]
"""The mean chosen Q by step of each group: [{step, mean, ...}] (report.json's lookahead.q_by_step)."""


class Plots:
    """A plots/ folder: `figure()` opens one, `save(fig, name)` writes it; `made` lists the PNGs
    relative to the report's folder (plots/<name>)."""

    def __init__(self, folder: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.plt = plt
        self.folder = folder
        self.made: list[str] = []
        folder.mkdir(parents=True, exist_ok=True)

    def figure(self, size: tuple[float, float] = (6, 4)) -> tuple[Any, Any]:
        return self.plt.subplots(figsize=size)

    def save(self, fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(self.folder / name, dpi=100)
        self.plt.close(fig)
        self.made.append(f"plots/{name}")


def q_by_step(plots: Plots, groups: Iterable[tuple[QSeries, QMeans, str]], alpha: float, title: str) -> bool:
    """q_by_step.png: chosen Q along the steps, each run's series thin and each group's mean thick
    (resolved green, unresolved red), for one run folder or several (a label each, e.g. a seed).
    True when a run's series was drawn."""
    fig, ax = plots.figure()
    drawn = False
    for series, means, label in groups:
        for group, color in (("resolved", "tab:green"), ("unresolved", "tab:red")):
            for s in series.get(group, []):
                ax.plot(range(len(s)), s, color=color, alpha=alpha, linewidth=0.8)
                drawn = True
            if means.get(group):
                steps = means[group]
                ax.plot(
                    [m["step"] for m in steps],
                    [m["mean"] for m in steps],
                    color=color,
                    linewidth=2,
                    label=group + label,
                )
    ax.set_xlabel("step")
    ax.set_ylabel("chosen Q")
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    plots.save(fig, "q_by_step.png")
    return drawn
