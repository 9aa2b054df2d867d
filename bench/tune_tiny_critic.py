"""Tune the tiny critic's defaults by the worst fold of an experiment's folds mode (issue 29).

Reuses a finished `swe-search experiment` with `split: {kind: folds}` (its collected runs, splits and
evaluation base pools; read only) and, per variant and fold, does what the experiment's train phase
does (eval.experiment.phases: the fold's train data, critic.model.make_tiny_critic on its corpus,
critic.train.loop.train with the variant's `critic`/`tiny` settings), then scores the final Q
(search.select.final_turn_q, as the rescore phase does) of

  heldout   the fold's held-out tasks' collected runs (collect/, m runs each): the TUNING metric;
  evalbase  the fold's evaluation base pool (fold-F/evaluate/base): CONFIRMATION only.

Per variant: per-fold and worst-fold AUC of the final Q against resolved, select - mean (per task the
max-Q run, first on ties, against the mean Pass@1 of its runs) and the train wall time.

Results are saved to OUT/results.json after each (variant, fold); a rerun skips what is done (and a
training killed midway resumes from its last epoch state). With --prune, folds are visited worst
first (by the first variant's held-out AUC) and a variant stops once one fold's held-out AUC falls
below the first variant's worst: its worst fold can then no longer beat it.

    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/tune_tiny_critic.py --source /work/h-folds-exp \\
        --out runs/tune [--variants default,epochs10] [--prune] [--report]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

SEED = 0
VARIANTS: dict[str, list[str]] = {
    "default": [],
    "vocab1024": ["tiny.vocab_size=1024"],
    "vocab16384": ["tiny.vocab_size=16384"],
    "nocorpus": ["tiny.corpus=false"],
    "comp20-40": ["critic.compression.head=20", "critic.compression.tail=40"],
    "comp80-120": ["critic.compression.head=80", "critic.compression.tail=120"],
    "action96": ["critic.compression.action_head=96"],
    "epochs10": ["critic.epochs=10"],
    "epochs40": ["critic.epochs=40"],
}
"""One factor at a time from the defaults: name -> `key.path=value` overrides of the experiment config."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="tune_tiny_critic", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--source", type=Path, required=True, help="a finished folds experiment (read only)")
    p.add_argument("--out", type=Path, default=Path("runs/tune-tiny"), help="work folder and results.json")
    p.add_argument(
        "--config",
        type=Path,
        help="the experiment config the variants start from (default: configs/experiment.yaml, today's defaults)",
    )
    p.add_argument("--variants", help=f"comma-separated, in order (default: all of {', '.join(VARIANTS)})")
    p.add_argument("--prune", action="store_true", help="stop a variant once it cannot beat the first one")
    p.add_argument("--report", action="store_true", help="only print the tables of results.json")
    p.add_argument("--rescore", action="store_true", help="write missing score files (with --report)")
    return p.parse_args(argv)


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def figures(scored: dict[str, list[tuple[float, bool]]]) -> dict[str, Any]:
    """AUC over all runs, and select - mean over tasks (the max-Q run, first on ties)."""
    from eval.report.bootstrap import auc

    flat = [p for runs in scored.values() for p in runs]
    value = auc([q for q, _ in flat], [y for _, y in flat])
    picks, means = [], []
    for runs in scored.values():
        if not runs:
            continue
        best = max(range(len(runs)), key=lambda i: (runs[i][0], -i))
        picks.append(float(runs[best][1]))
        means.append(sum(y for _, y in runs) / len(runs))
    return {
        "auc": None if math.isnan(value) else value,
        "n": len(flat),
        "positives": sum(y for _, y in flat),
        "select": sum(picks) / len(picks) if picks else None,
        "mean": sum(means) / len(means) if means else None,
        "select_minus_mean": (sum(picks) - sum(means)) / len(picks) if picks else None,
    }


def score_pool(scorer: Any, folder: Path, tasks: list[str]) -> dict[str, list[tuple[float, bool]]]:
    """Each task's runs of a run folder as (final Q, resolved); unscorable runs left out."""
    from agent.trajectory import Trajectory
    from eval.batch.records import load_records
    from search.select import final_turn_q

    records = load_records(folder)
    out: dict[str, list[tuple[float, bool]]] = {}
    for task in tasks:
        if task not in records:
            continue
        runs = []
        for run in records[task].runs:
            if not run.trajectory or not (folder / run.trajectory).is_file():
                continue
            traj = Trajectory.load(folder / run.trajectory)
            q = final_turn_q(traj.messages, scorer, traj.patch)
            if q is not None:
                runs.append((q, bool(run.resolved)))
        out[task] = runs
    return out


def train_fold(config: Any, source: Path, fold: int, train_tasks: list[str]) -> tuple[Path, float, str]:
    """The fold's critic as the experiment's train phase makes it: (checkpoint, train seconds, how).
    Seeded as the experiment is, so `default` reproduces the source experiment's critics exactly."""
    from critic.model import make_tiny_critic
    from critic.train.loop import train
    from eval.experiment.layout import checkpoint_dir, phase_dir
    from eval.experiment.phases import _corpus, link_runs, train_config, train_data_dir

    folder = phase_dir(config.out, SEED, "train", fold)
    link_runs(source / f"seed-{SEED}" / "collect", train_tasks, folder / "data")  # hard links
    tc = train_config(config, SEED, fold)
    start = time.monotonic()
    if not (folder / "init" / "config.json").exists():
        tmp = folder / "init.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tiny = config.tiny
        make_tiny_critic(
            tmp,
            seed=SEED,
            hidden=tiny.hidden,
            layers=tiny.layers,
            vocab_size=tiny.vocab_size,
            corpus=_corpus(train_data_dir(config.out, SEED, fold)) if tiny.corpus else None,
        )
        tmp.rename(folder / "init")
    metrics = Path(tc.out_dir) / "metrics.json"
    if metrics.exists() and json.loads(metrics.read_text())["config"] == tc.model_dump(mode="json"):
        # trained before a kill: its own training time (the tokenizer's is not in it)
        return (
            checkpoint_dir(config.out, SEED, fold),
            json.loads(metrics.read_text())["final"]["seconds"],
            "resumed",
        )
    train(tc)
    return checkpoint_dir(config.out, SEED, fold), time.monotonic() - start, "trained"


def run_one(
    name: str, overrides: list[str], args: argparse.Namespace, split: dict[str, Any], fold: int
) -> dict:
    from eval.experiment.config import ExperimentConfig

    config = ExperimentConfig.load(args.config, overrides=[*overrides, f"out={args.out / name}"])
    f = split["folds"][fold]
    ckpt, seconds, how = train_fold(config, args.source, fold, f["train"])
    start = time.monotonic()
    heldout, evalbase = score_fold(ckpt, args, name, fold, f["heldout"])
    return {
        "variant": name,
        "fold": fold,
        "groups": f["groups"],
        "overrides": overrides,
        "critic": how,
        "train_seconds": seconds,
        "score_seconds": time.monotonic() - start,
        "heldout": figures(heldout),
        "evalbase": figures(evalbase),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def score_fold(
    ckpt: Path, args: argparse.Namespace, name: str, fold: int, tasks: list[str]
) -> tuple[dict[str, list[tuple[float, bool]]], dict[str, list[tuple[float, bool]]]]:
    """The fold critic's (final Q, resolved) per run of both pools, also kept in OUT/NAME/scores-F.json
    (the paired bootstrap of the report reads them)."""
    from critic.factory import make_critic

    scorer = make_critic(str(ckpt.resolve()), args.out / name)
    heldout = score_pool(scorer, args.source / f"seed-{SEED}" / "collect", tasks)
    base = args.source / f"seed-{SEED}" / f"fold-{fold}" / "evaluate" / "base"
    evalbase = score_pool(scorer, base, tasks)
    path = args.out / name / f"scores-{fold}.json"
    path.write_text(json.dumps({"heldout": heldout, "evalbase": evalbase}), encoding="utf-8")
    return heldout, evalbase


def paired_worst_auc(args: argparse.Namespace, first: str, name: str, k: int, samples: int = 2000) -> str:
    """`name` - `first` in worst-fold held-out AUC, with a 95% interval from a paired bootstrap over
    tasks (resampled within each fold, the same draws for both)."""
    import numpy as np

    from eval.report.bootstrap import auc

    pairs = []
    for fold in range(k):
        a, b = (load_json(args.out / n / f"scores-{fold}.json").get("heldout") for n in (first, name))
        if not a or not b:
            return "-"
        pairs.append((a, b, sorted(a)))
    rng = np.random.default_rng(0)

    def worst(draw: list[list[str]], which: int) -> float:
        return min(
            auc([q for t in tasks for q, _ in p[which][t]], [y for t in tasks for _, y in p[which][t]])
            for p, tasks in zip(pairs, draw, strict=True)
        )

    point = worst([p[2] for p in pairs], 1) - worst([p[2] for p in pairs], 0)
    diffs = []
    for _ in range(samples):
        draw = [[p[2][i] for i in rng.integers(0, len(p[2]), len(p[2]))] for p in pairs]
        diffs.append(worst(draw, 1) - worst(draw, 0))
    lo, hi = np.nanpercentile(diffs, [2.5, 97.5])
    return f"{point:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def rescore(args: argparse.Namespace, results: dict[str, Any], split: dict[str, Any]) -> None:
    """Score files for results that have none (results.json written by an older version)."""
    from eval.experiment.layout import checkpoint_dir

    for key in results:
        name, fold = key.split("/")[0], int(key.split("/")[1])
        if not (args.out / name / f"scores-{fold}.json").is_file():
            ckpt = checkpoint_dir(args.out / name, SEED, fold)
            score_fold(ckpt, args, name, fold, split["folds"][fold]["heldout"])


def fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def worst(rows: list[dict[str, Any]], pool: str, key: str) -> float | None:
    """The lowest `key` of `pool` over the folds done (None: none scored)."""
    vals = [r[pool][key] for r in rows if r[pool][key] is not None]
    return min(vals) if vals else None


def table(results: dict[str, Any], names: list[str], k: int) -> str:
    """Per variant: held-out AUC per fold, worst-fold figures, confirmation, train seconds per fold;
    then per (variant, fold) in full."""
    head = (
        "| variant | " + " | ".join(f"AUC f{i}" for i in range(k)) + " | worst AUC | worst sel-mean "
        "| confirm: worst AUC | confirm: worst sel-mean | train s/fold |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    detail = [
        "| variant | fold | libraries | AUC | select | mean | sel-mean | confirm AUC | confirm sel-mean | train s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        rows = [results.get(f"{name}/{i}") for i in range(k)]
        done = [r for r in rows if r]
        if not done:
            continue
        mark = "" if len(done) == k else " (partial)"
        cells = [
            worst(done, "heldout", "auc"),
            worst(done, "heldout", "select_minus_mean"),
            worst(done, "evalbase", "auc"),
            worst(done, "evalbase", "select_minus_mean"),
        ]
        secs = sum(r["train_seconds"] for r in done) / len(done)
        lines.append(
            f"| {name} | "
            + " | ".join(fmt(r["heldout"]["auc"]) if r else "-" for r in rows)
            + " | "
            + " | ".join(fmt(c) + mark for c in cells)
            + f" | {secs:.0f} |"
        )
        for r in done:
            h, e = r["heldout"], r["evalbase"]
            detail.append(
                f"| {name} | {r['fold']} | {'+'.join(r['groups'])} | {fmt(h['auc'])} | {fmt(h['select'])} "
                f"| {fmt(h['mean'])} | {fmt(h['select_minus_mean'])} | {fmt(e['auc'])} "
                f"| {fmt(e['select_minus_mean'])} | {r['train_seconds']:.0f} |"
            )
    return "\n".join(lines) + "\n\n" + "\n".join(detail)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    split = load_json(args.source / "splits.json")
    if not split.get("folds"):
        print(f"tune_tiny_critic: {args.source}/splits.json holds no folds", file=sys.stderr)
        return 2
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        print(
            f"tune_tiny_critic: unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}",
            file=sys.stderr,
        )
        return 2
    args.out = args.out.resolve()
    path = args.out / "results.json"
    results: dict[str, Any] = load_json(path)
    k = len(split["folds"])
    if args.rescore:
        rescore(args, results, split)
    if args.report:
        print(table(results, names, k))
        print(f"\nworst-fold held-out AUC - {names[0]}'s (paired bootstrap over tasks, 95%):")
        for name in names[1:]:
            print(f"  {name}: {paired_worst_auc(args, names[0], name, k)}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    first = names[0]
    for name in names:
        order = list(range(k))
        floor = None
        if args.prune and name != first and all(f"{first}/{i}" in results for i in range(k)):
            aucs = {i: results[f"{first}/{i}"]["heldout"]["auc"] or 0.0 for i in range(k)}
            order.sort(key=lambda i: aucs[i])
            floor = min(aucs.values())
        for fold in order:
            key = f"{name}/{fold}"
            if key not in results:
                print(f"[{time.strftime('%H:%M:%S')}] {key} ...", file=sys.stderr, flush=True)
                results[key] = run_one(name, VARIANTS[name], args, split, fold)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(results, indent=1), encoding="utf-8")
                tmp.replace(path)
                r = results[key]
                print(
                    f"[{time.strftime('%H:%M:%S')}] {key}: AUC {fmt(r['heldout']['auc'])} "
                    f"sel-mean {fmt(r['heldout']['select_minus_mean'])} (confirm AUC {fmt(r['evalbase']['auc'])}) "
                    f"train {r['train_seconds']:.0f}s ({r['critic']})",
                    file=sys.stderr,
                    flush=True,
                )
            auc = results[key]["heldout"]["auc"]
            if floor is not None and (auc is None or auc < floor):
                print(
                    f"  {name}: fold {fold} AUC {fmt(auc)} < {first}'s worst {fmt(floor)}: pruned",
                    file=sys.stderr,
                )
                break
    print(table(results, names, k))
    return 0


if __name__ == "__main__":
    sys.exit(main())
