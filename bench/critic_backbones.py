"""Critic backbones on the same folds: the tiny critic of a folds experiment against `smollm2`.

For each fold F of a finished `split: {kind: folds}` experiment (EXP/seed-S/fold-F/...):
- the tiny critic is the experiment's own checkpoint, train/critic, as it is;
- `smollm2` (critic.backbones: SmolLM2-135M with a value head and LoRA) is trained here on the same
  collected runs (train/data, copied) with the tiny critic's own settings (its metrics.json: the split
  of held-out trajectories, compression, batch size, ...) except what --epochs, --lr, --lam and
  --max-context set (a 135M model on 2 cores needs fewer, cheaper epochs);
- both score the final Q of every run of the fold's base pool (evaluate/base: held-out libraries,
  graded), as Experiment._rescore does (search.select.final_turn_q through LocalCritic);
- per fold: held-out AUC of the final Q against resolved, select@N - base (Pass@1 of the max-Q run among
  each task's N runs, ranked as search.select.choose ranks, minus the mean resolve rate), the share of
  the oracle@N gap that select closes; train and scoring wall time with the load average. The worst
  fold is each column's worst value.

Everything is written to --out (checkpoints, scores.json per critic and fold, results.json); a rerun
skips what is done. Lookahead is not run (with smollm2 it costs a forward per candidate per step).

    python bench/critic_backbones.py --exp /work/h-folds-exp --out runs/bench-backbones --folds 0
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", type=Path, required=True, help="folder of a finished folds experiment")
    p.add_argument("--out", type=Path, default=Path("runs/bench-backbones"), help="where everything goes")
    p.add_argument("--seed", type=int, default=0, help="the experiment's seed folder (seed-S)")
    p.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2], help="fold indices to measure")
    p.add_argument("--epochs", type=int, default=1, help="smollm2: passes over the training windows")
    p.add_argument("--lr", type=float, default=1e-3, help="smollm2: peak learning rate (LoRA + head)")
    p.add_argument(
        "--lam", type=float, default=1.0, help="smollm2: TD lambda (1: Monte Carlo, no bootstrap pass)"
    )
    p.add_argument("--max-context", type=int, default=1024, help="smollm2: token limit of a window")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: OMP_NUM_THREADS)")
    p.add_argument("--n", type=int, default=4, help="runs per task that select picks from")
    p.add_argument("--skip-train", action="store_true", help="only score critics already trained")
    return p.parse_args(argv)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def train_smollm2(args: argparse.Namespace, fold_dir: Path, out: Path) -> dict[str, Any]:
    """Train (or find) the fold's smollm2 critic; its wall time, load average and throughput."""
    from critic.config import TrainConfig
    from critic.train.loop import train

    done = out / "smollm2" / "bench.json"
    if done.is_file():
        return json.loads(done.read_text(encoding="utf-8"))
    data = out / "data"
    if not data.is_dir():  # the experiment folder is read-only to us: a copy
        shutil.copytree(fold_dir / "train" / "data", data)
    tiny = json.loads((fold_dir / "train" / "critic" / "metrics.json").read_text(encoding="utf-8"))["config"]
    keep = {"eval_fraction", "compression", "gamma", "weight_decay", "warmup_ratio", "batch_size"}
    keep |= {"micro_batch_size", "max_grad_norm", "seed", "calibration_bins"}
    cfg = TrainConfig.model_validate(
        {
            **{k: v for k, v in tiny.items() if k in keep},
            "model": "smollm2",
            "lora": "auto",
            "data": [str(data.resolve())],
            "out_dir": str((out / "smollm2").resolve()),
            "epochs": args.epochs,
            "lr": args.lr,
            "lam": args.lam,
            "max_context": args.max_context,
            "device": "cpu",
            "save_state_every": 0,
            "log_every": 5,
        }
    )
    before, t0 = load(), time.time()
    result = train(cfg)
    seconds = time.time() - t0
    tokens = train_tokens(cfg)
    bench = {
        "train_seconds": seconds,
        "load_before": before,
        "load_after": load(),
        "threads": _threads(),
        "epochs": args.epochs,
        "train_tokens_per_epoch": tokens,
        "final_epoch": result["epochs"][-1] if result.get("epochs") else {},
        "config": cfg.model_dump(mode="json"),
    }
    done.write_text(json.dumps(bench, indent=1), encoding="utf-8")
    return bench


def train_tokens(cfg: Any) -> int:
    """Tokens of the training windows of one epoch (the held-out share split off as `critic train` does)."""
    from transformers import AutoTokenizer

    from critic.data.prepared import serialize
    from critic.data.runs import load_run_folder
    from critic.serialize import Compression, Serializer
    from critic.train.loop import split

    tokenizer = AutoTokenizer.from_pretrained(cfg.out_dir)
    compression = Compression(**cfg.compression.model_dump()) if cfg.compression else None
    serializer = Serializer(tokenizer, max_tokens=cfg.max_context, compression=compression)
    items = serialize(load_run_folder(Path(cfg.data[0])), serializer)
    train_items, _ = split(items, cfg.eval_fraction, cfg.seed)
    return sum(len(w.ids) for p in train_items for w in p.windows)


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def score_base(critic_dir: Path, base: Path, scores: Path, max_context: int) -> dict[str, Any]:
    """The final Q of every run of the base pool (saved after each instance; a rerun goes on)."""
    from agent.trajectory import Trajectory
    from critic.clients.http import LocalCritic
    from eval.batch.records import load_records
    from search.select import final_turn_q

    found: dict[str, Any] = json.loads(scores.read_text(encoding="utf-8")) if scores.is_file() else {}
    critic = LocalCritic(critic_dir, device="cpu", max_context=max_context)
    t0, todo = time.time(), 0
    for iid, rec in sorted(load_records(base).items()):
        if iid in found:
            continue
        entry = {}
        for run in rec.runs:
            if run.trajectory and (base / run.trajectory).is_file():
                traj = Trajectory.load(base / run.trajectory)
                entry[str(run.index)] = final_turn_q(traj.messages, critic, traj.patch)
                todo += 1
        found[iid] = entry
        scores.write_text(json.dumps(found, indent=1), encoding="utf-8")
    meta = scores.with_suffix(".time.json")
    if todo:
        meta.write_text(json.dumps({"seconds": time.time() - t0, "runs": todo, "load": load()}), "utf-8")
    return found


def fold_metrics(base: Path, scores: dict[str, Any], n: int) -> dict[str, Any]:
    """AUC of the final Q vs resolved; select@n - base; oracle gap closed (eval.report's functions)."""
    from eval.batch.records import load_records
    from eval.report.bootstrap import auc
    from eval.report.selection_stats import RunView, selection_curve

    views, qs, ys = [], [], []
    for iid, rec in sorted(load_records(base).items()):
        row = []
        for run in rec.runs:
            q = scores.get(iid, {}).get(str(run.index))
            row.append(RunView.of(run.model_copy(update={"final_q": q})))
            if q is not None:
                qs.append(float(q))
                ys.append(bool(run.resolved))
        views.append(row)
    at = next(c for c in selection_curve(views, "final_q") if c["n"] == min(n, max(map(len, views))))
    gap = at["oracle"] - at["mean"]
    value = auc(qs, ys)
    return {
        "runs": len(qs),
        "positives": sum(ys),
        "auc": None if value != value else float(value),  # NaN: one class only
        "base": at["mean"],
        "select": at["selected"],
        "oracle": at["oracle"],
        "select_minus_base": at["selected"] - at["mean"],
        "gap_closed": (at["selected"] - at["mean"]) / gap if gap > 1e-12 else None,
    }


def table(results: dict[str, Any]) -> str:
    """Markdown: one row per critic and fold, then each critic's worst fold."""

    def f(x: Any, pct: bool = False) -> str:
        if x is None:
            return "-"
        return f"{100 * x:+.1f}" if pct else f"{x:.3f}"

    lines = [
        "| critic | fold | held-out AUC | base | select@4 | select - base | gap closed | train s (load) | score s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for critic, folds in results["critics"].items():
        for fold, m in sorted(folds.items()):
            tr = m.get("train") or {}
            train_s = f"{tr['train_seconds']:.0f} ({tr['load_before']})" if tr else "(experiment's)"
            lines.append(
                f"| {critic} | {fold} | {f(m['auc'])} | {100 * m['base']:.1f} | {100 * m['select']:.1f} | "
                f"{f(m['select_minus_base'], True)} | {f(m['gap_closed'])} | {train_s} | "
                f"{m.get('score_seconds', 0):.0f} |"
            )
        ms = list(folds.values())
        worst = {
            k: min((m[k] for m in ms if m[k] is not None), default=None)
            for k in ("auc", "select_minus_base", "gap_closed")
        }
        lines.append(
            f"| {critic} | worst | {f(worst['auc'])} | | | {f(worst['select_minus_base'], True)} | "
            f"{f(worst['gap_closed'])} | | |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    root = args.exp / f"seed-{args.seed}"
    if not root.is_dir():
        print(f"error: {root} does not exist (--exp: a finished folds experiment)", file=sys.stderr)
        return 2
    results: dict[str, Any] = {"exp": str(args.exp), "n": args.n, "critics": {"tiny": {}, "smollm2": {}}}
    for fold in args.folds:
        fold_dir, out = root / f"fold-{fold}", args.out / f"fold-{fold}"
        out.mkdir(parents=True, exist_ok=True)
        base = fold_dir / "evaluate" / "base"
        tiny_dir = fold_dir / "train" / "critic"
        tiny_ctx = json.loads((tiny_dir / "config.json").read_text(encoding="utf-8"))["critic_max_context"]
        print(f"fold {fold}: tiny critic {tiny_dir} (load {load()})", flush=True)
        scores = score_base(tiny_dir, base, out / "tiny-scores.json", tiny_ctx)
        results["critics"]["tiny"][fold] = {**fold_metrics(base, scores, args.n), **_score_time(out, "tiny")}
        if args.skip_train and not (out / "smollm2" / "bench.json").is_file():
            continue
        print(f"fold {fold}: smollm2 training (load {load()})", flush=True)
        bench = train_smollm2(args, fold_dir, out)
        tps = bench["train_tokens_per_epoch"] * bench["epochs"] / bench["train_seconds"]
        print(f"fold {fold}: smollm2 trained in {bench['train_seconds']:.0f} s ({tps:.0f} tokens/s); scoring")
        scores = score_base(out / "smollm2", base, out / "smollm2-scores.json", args.max_context)
        results["critics"]["smollm2"][fold] = {
            **fold_metrics(base, scores, args.n),
            **_score_time(out, "smollm2"),
            "train": {
                k: bench[k]
                for k in (
                    "train_seconds",
                    "load_before",
                    "load_after",
                    "threads",
                    "epochs",
                    "train_tokens_per_epoch",
                )
            },
        }
        (args.out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
        print(table(results), flush=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(table(results))
    return 0


def _score_time(out: Path, critic: str) -> dict[str, Any]:
    path = out / f"{critic}-scores.time.json"
    meta = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {"score_seconds": meta.get("seconds", 0.0), "score_load": meta.get("load")}


if __name__ == "__main__":
    raise SystemExit(main())
