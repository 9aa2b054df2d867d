"""Critic scoring cost per lookahead step: naive vs prefix-shared vs session-incremental.

K candidates of about `--cand-tokens` tokens after histories of about 1k, 4k and 16k tokens:
- naive: K full sequences (history + candidate), each from scratch;
- prefix-shared: one pass over the history, the K candidates packed on its KV cache;
- incremental: a session holds the previous step's cache; the history grew by one turn pair;
- history forward: one plain pass over the history alone (the yardstick for prefix-shared);
- batching (a second table): `--runs` parallel runs each take an incremental step at once, scored
  one request after another vs together in one `Scorer.score_many` call (what the server does with
  concurrent requests).

Goals: prefix-shared <= 1.3x history forward; incremental <= 0.1x naive at 16k.

    python bench/critic_scoring.py                          # tiny random Qwen2, CPU
    python bench/critic_scoring.py --size wide --histories 1024,4096 --runs 0   # CPU, matmul-bound
    python bench/critic_scoring.py --size 7b --device cuda --dtype bfloat16
    python bench/critic_scoring.py --out bench/results/critic_scoring.md
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from transformers import Qwen2Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from critic.data.synthetic import synthetic_history  # noqa: E402
from critic.model import (
    backbone,
    build_critic,
    make_tiny_tokenizer,
    qwen2_7b_config,
    resolve_dtype,
    tiny_config,
)  # noqa: E402
from critic.serve.scoring import Request, Scorer  # noqa: E402


def wide_config(vocab_size: int) -> Qwen2Config:
    """Qwen2-0.5B's layer widths with 2 layers: on CPU its time goes to matrix products, as a 7B's
    does on GPU, unlike the tiny model's, which goes to attention and overhead."""
    return tiny_config(vocab_size, hidden=896, layers=2, heads=14, kv_heads=2, intermediate=4864)


def build(size: str, device: torch.device, dtype: torch.dtype) -> Scorer:
    """A random-init critic of the given shape (no download) wrapped in a Scorer."""
    torch.manual_seed(0)
    tokenizer = make_tiny_tokenizer()
    configs = {"tiny": tiny_config, "wide": wide_config, "7b": lambda _: qwen2_7b_config()}
    config = configs[size](len(tokenizer))
    with torch.device(device):
        model = build_critic(config, tokenizer, dtype=dtype)
    model.to(device=device, dtype=dtype).eval()
    return Scorer(
        model, tokenizer, max_context=65536, max_batch_tokens=32768, cache_bytes=64 << 30, max_batch_rows=64
    )


def candidates(tokenizer, k: int, tokens: int) -> list[str]:
    words = [
        "open",
        "src/file.py",
        "and",
        "edit",
        "line",
        "value",
        "to",
        "fix",
        "the",
        "bug",
        "then",
        "run",
        "the",
        "tests",
    ]
    out = []
    for i in range(k):
        text = f"Candidate {i}: I think the problem is in src/file.py.\n```bash\n"
        while len(tokenizer(text)["input_ids"]) < tokens - 8:
            text += words[(len(text) + i) % len(words)] + " "
        out.append(text + "\n```")
    return out


def timed(fn, device: torch.device, repeats: int) -> float:
    """Median seconds of `fn()` over `repeats` runs."""
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_one(
    scorer: Scorer, target: int, cands: list[str], device: torch.device, repeats: int, steps: int
) -> list[dict]:
    history = synthetic_history(scorer.serializer.tokenizer, target, seed=target)
    inp = scorer.serializer.for_scoring(history, cands)
    h, c = len(inp.history), sum(len(x) for x in inp.candidates)
    k = len(cands)

    @torch.inference_mode()
    def history_forward() -> None:
        backbone(scorer.model)(input_ids=torch.tensor([inp.history], device=device), use_cache=False)

    t_hist = timed(history_forward, device, repeats)
    t_naive = timed(lambda: scorer.score_naive(history, cands), device, max(1, repeats // 2))
    t_prefix = timed(lambda: scorer.score(history, cands), device, repeats)

    # incremental: warm a session `steps` turn pairs back, then time each growing step
    incr, new_tokens = [], []
    for rep in range(repeats):
        sid = f"bench-{target}-{rep}"
        scorer.score(history[: len(history) - 2 * steps], cands, session=sid)
        for s in range(steps - 1, -1, -1):
            hist = history[: len(history) - 2 * s]
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            res = scorer.score(hist, cands, session=sid)
            if device.type == "cuda":
                torch.cuda.synchronize()
            incr.append(time.perf_counter() - t)
            new_tokens.append(res.prefix_tokens - res.cached_tokens)
        scorer.drop_session(sid)
    t_incr = statistics.median(incr)
    new = statistics.median(new_tokens)

    rows = [
        ("history forward (1 pass, no candidates)", t_hist, h),
        ("naive (K full sequences)", t_naive, k * h + c),
        ("prefix-shared", t_prefix, h + c),
        (f"session-incremental (~{int(new)} new history tokens)", t_incr, new + c),
    ]
    return [
        {
            "history": h,
            "method": name,
            "ms": 1000 * t,
            "tokens": int(tok),
            "tok_s": tok / t,
            "vs_naive": t / t_naive,
            "vs_history": t / t_hist,
        }
        for name, t, tok in rows
    ]


def bench_batching(
    scorer: Scorer, target: int, cands: list[str], device: torch.device, repeats: int, runs: int
) -> dict:
    """`runs` sessions, each one turn pair behind; time their next step one by one vs batched."""
    tok = scorer.serializer.tokenizer
    histories = [synthetic_history(tok, target, seed=1000 * target + j) for j in range(runs)]
    seq, bat = [], []
    for rep in range(repeats):
        for tag, times in (("seq", seq), ("bat", bat)):
            sids = [f"{tag}-{target}-{rep}-{j}" for j in range(runs)]
            for sid, h in zip(sids, histories, strict=True):
                scorer.score(h[:-2], cands, session=sid)
            requests = [Request(h, cands, sid) for sid, h in zip(sids, histories, strict=True)]
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            if tag == "seq":
                for r in requests:
                    scorer.score(r.history, r.candidates, session=r.session)
            else:
                scorer.score_many(requests)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
            for sid in sids:
                scorer.drop_session(sid)
    t_seq, t_bat = statistics.median(seq), statistics.median(bat)
    return {"history": target, "runs": runs, "seq_ms": 1000 * t_seq, "bat_ms": 1000 * t_bat}


def batching_table(rows: list[dict]) -> str:
    lines = [
        "| history tokens | runs stepping at once | one after another (ms) | batched (ms) | batched / one after another |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| ~{r['history']} | {r['runs']} | {r['seq_ms']:.1f} | {r['bat_ms']:.1f} | {r['bat_ms'] / r['seq_ms']:.2f} |"
        )
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    lines = [
        "| history tokens | method | ms / step | tokens computed | tokens/s | x naive | x history forward |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['history']} | {r['method']} | {r['ms']:.1f} | {r['tokens']} | {r['tok_s']:,.0f} | "
            f"{r['vs_naive']:.3f} | {r['vs_history']:.2f} |"
        )
    return "\n".join(lines)


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"
    return f"{name}; torch {torch.__version__}; Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--size",
        choices=["tiny", "wide", "7b"],
        default="tiny",
        help="tiny Qwen2 (CPU), wide (Qwen2-0.5B widths, 2 layers; CPU) or Qwen2-7B shape; random init",
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="auto", help="auto (bf16 on GPU, fp32 on CPU), float32, bfloat16")
    ap.add_argument("--k", type=int, default=8, help="candidates per step")
    ap.add_argument("--cand-tokens", type=int, default=150)
    ap.add_argument("--histories", default="1024,4096,16384", help="comma-separated history sizes in tokens")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3, help="incremental steps timed per repeat")
    ap.add_argument("--runs", type=int, default=8, help="parallel runs in the batching comparison (0: skip)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    ap.add_argument("--out", type=Path, help="also write the markdown report here")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    device = torch.device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    scorer = build(args.size, device, dtype)
    cands = candidates(scorer.serializer.tokenizer, args.k, args.cand_tokens)
    scorer.score(synthetic_history(scorer.serializer.tokenizer, 256), cands)  # warm up
    rows, batched = [], []
    for target in [int(x) for x in args.histories.split(",")]:
        rows += bench_one(scorer, target, cands, device, args.repeats, args.steps)
        print(table(rows[-4:]), flush=True)
        if args.runs:
            batched.append(bench_batching(scorer, target, cands, device, args.repeats, args.runs))
            print(batching_table(batched[-1:]), flush=True)

    header = (
        f"# Critic scoring benchmark\n\n"
        f"- date: {datetime.date.today().isoformat()}\n- machine: {machine(device)}\n"
        f"- model: {args.size} ({sum(p.numel() for p in scorer.model.parameters()) / 1e6:.1f}M params), "
        f"dtype {str(dtype).removeprefix('torch.')}, device {device}\n"
        f"- K={args.k} candidates of ~{args.cand_tokens} tokens; median of {args.repeats} repeats\n"
        f"- command: `python bench/critic_scoring.py {' '.join(argv if argv is not None else sys.argv[1:])}`\n\n"
    )
    report = header + table(rows) + "\n"
    if batched:
        report += "\n" + batching_table(batched) + "\n"
    print("\n" + report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
