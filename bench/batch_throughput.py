"""Batch throughput of `swe-search run` with a scripted gold policy at W = 1, 2, 4 workers, with
threads and with Ray (`--executor ray`, a one-node Ray started here once, sized for the largest W).

Reports instances per minute for both executors on the same tasks in one run, Ray's overhead per
instance (its wall time per instance over the threads'), the mean grading time per instance, and,
on the same task and gold patch, swebench's own `run_instance` (whose cleanup stops the container
with `docker stop --time=15` before removing it). Results go to bench/results/batch_throughput.md.

    python bench/batch_throughput.py [--workers 1 2 4] [--executors thread ray] [--repeats 2] [--out ...]
    python bench/batch_throughput.py --grading-only --repeats 3   # the grading comparison alone
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from envs.engine import ensure_docker
from envs.images import build_base, build_task_images
from envs.tasks import load_tasks
from eval.batch.config import RunConfig
from eval.batch.prepare import prepare
from eval.batch.records import load_records
from eval.batch.run import run_batch
from eval.grading import grade

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "tasks"


def batch(workers: int, root: Path, executor: str = "thread") -> dict[str, Any]:
    """One `swe-search run --model scripted:gold` over the example tasks with W workers."""
    out = root / f"{executor}-w{workers}"
    flags = {"dataset": str(EXAMPLES), "model": "scripted:gold", "workers": workers, "out": str(out)}
    cfg = RunConfig.load(
        flags={**flags, "executor": executor},
        overrides=["agent.step_limit=5", "build_images=false"],
    )
    b = prepare(cfg)
    t0 = time.perf_counter()
    assert run_batch(b, Console(stderr=True, quiet=True), progress=False)
    wall = time.perf_counter() - t0
    recs = list(load_records(out).values())
    assert all(r.resolved for r in recs), "the gold policy must resolve every example task"
    return {
        "executor": executor,
        "workers": workers,
        "instances": len(recs),
        "wall": wall,
        "per_minute": 60 * len(recs) / wall,
        "grading": statistics.fmean(r.grading_time for r in recs),
        "instance": statistics.fmean(r.duration for r in recs),
    }


def ours_grade(task, i: int) -> tuple[float, float | None]:
    """One `eval.grading.grade` of the gold patch: its wall time and the tests' own time (pytest's)."""
    t0 = time.perf_counter()
    g = grade(task, task.instance["patch"], run_id=f"bench-ours-{i}", timeout=300)
    elapsed = time.perf_counter() - t0
    assert g.resolved, g.message
    tests = re.findall(r"passed in ([0-9.]+)s", g.log)
    return elapsed, float(tests[-1]) if tests else None


def swebench_run_instance(task, i: int) -> float | None:
    """One swebench `run_instance` on our task image and gold patch (None: it did not grade it)."""
    from swebench.harness.run_evaluation import run_instance
    from swebench.harness.utils import make_test_spec

    client = ensure_docker()
    spec = make_test_spec(task.instance)
    pred = {
        "instance_id": task.instance_id,
        "model_name_or_path": "bench",
        "model_patch": task.instance["patch"],
    }
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):  # it writes logs/ into the cwd
        t0 = time.perf_counter()
        result = run_instance(spec, pred, client, run_id=f"bench-swebench-{i}", timeout=300)
        elapsed = time.perf_counter() - t0
    return elapsed if result and result[1][task.instance_id]["resolved"] else None


def compare_grading(task, repeats: int) -> list[str]:
    """Ours and swebench's `run_instance` on one task's gold patch, alternating, so that a change in
    the machine's load hits both alike; the report's lines."""
    load_before = os.getloadavg()
    ours, tests, theirs = [], [], []
    for i in range(repeats):
        elapsed, test_time = ours_grade(task, i)
        ours.append(elapsed)
        if test_time is not None:
            tests.append(test_time)
        theirs.append(swebench_run_instance(task, i))
    if None in theirs:
        raise SystemExit("swebench's run_instance did not resolve the gold patch on our image")
    mean_ours, mean_theirs = statistics.fmean(ours), statistics.fmean(theirs)
    load = " / ".join(f"{a:.1f}" for a in (load_before[0], os.getloadavg()[0]))
    return [
        f"## Grading one instance ({task.instance_id}, gold patch, {repeats} times each, alternating)",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}; load average (1 min) before / after: {load}",
        "",
        "| grader | mean (s) | runs (s) |",
        "|---|---|---|",
        f"| eval.grading.grade (force remove) | {mean_ours:.1f} | {', '.join(f'{t:.1f}' for t in ours)} |",
        f"| swebench run_instance, full | {mean_theirs:.1f} | {', '.join(f'{t:.1f}' for t in theirs)} |",
        "",
        f"Ratio (swebench / ours, same run): **{mean_theirs / mean_ours:.1f}x**; the tests themselves "
        f"(pytest's own time, ours): {statistics.fmean(tests) if tests else float('nan'):.2f} s.",
        "",
    ]


def start_ray(workers: int) -> float:
    """A one-node Ray here, sized for `workers` instances at once, its workers started; the seconds it took."""
    import ray

    from eval.batch.ray_pool import PACKAGE_ROOT, RESOURCE

    t0 = time.perf_counter()
    ray.init(
        num_cpus=workers,
        resources={RESOURCE: workers},
        include_dashboard=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(PACKAGE_ROOT)}},
        logging_level="warning",
    )

    @ray.remote(num_cpus=1)
    def warm() -> None:  # each worker process imports the work once, as a long run's workers would have
        import eval.batch.instance  # noqa: F401  (SolveAndGrade unpickles from there)

        time.sleep(2)

    ray.get([warm.remote() for _ in range(workers)])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--executors", nargs="+", default=["thread", "ray"], choices=["thread", "ray"])
    ap.add_argument("--repeats", type=int, default=2, help="gradings per grader in the comparison")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "batch_throughput.md")
    ap.add_argument(
        "--grading-only",
        action="store_true",
        help="only the grading comparison (to bench/results/grading.md unless --out is given)",
    )
    args = ap.parse_args()
    if args.grading_only and args.out == ap.get_default("out"):
        args.out = REPO / "bench" / "results" / "grading.md"

    ensure_docker()
    build_base()
    tasks = load_tasks(str(EXAMPLES))
    build_task_images(tasks)
    task = sorted(tasks, key=lambda t: t.instance_id)[0]
    grading = compare_grading(task, args.repeats)
    if args.grading_only:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(grading))
        print("\n".join(grading))
        return
    ray_start = start_ray(max(args.workers)) if "ray" in args.executors else None
    with tempfile.TemporaryDirectory(prefix="swe-search-bench-") as tmp:
        # interleaved, so that a change in the machine's load hits both executors alike
        rows = [batch(w, Path(tmp), e) for w in args.workers for e in args.executors]

    cpus = os.cpu_count()
    lines = [
        "# Batch throughput (`bench/batch_throughput.py`)",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"- machine: {platform.node()}, {platform.processor() or platform.machine()}, {cpus} CPU(s), "
        f"Python {platform.python_version()}, {platform.platform()}",
        f"- workload: `swe-search run --model scripted:gold` on the {len(tasks)} example tasks "
        "(apply the gold patch, submit, grade); images prebuilt; each W in a fresh run folder",
        "",
        "| executor | workers | instances | wall (s) | instances / min | mean instance (s) | mean grading (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['executor']} | {r['workers']} | {r['instances']} | {r['wall']:.1f} | {r['per_minute']:.1f} | "
        f"{r['instance']:.1f} | {r['grading']:.1f} |"
        for r in rows
    ]
    if ray_start is not None and "thread" in args.executors:
        by = {(r["executor"], r["workers"]): r for r in rows}
        lines += [
            "",
            f"Ray's overhead per instance (Ray started once beforehand, {ray_start:.1f} s, its W worker "
            "processes warm): wall time per instance with Ray over that with threads, and the difference.",
            "",
            "| workers | Ray / threads (wall per instance) | extra s per instance |",
            "|---|---|---|",
        ]
        for w in args.workers:
            t, r = by[("thread", w)], by[("ray", w)]
            ratio = r["wall"] / t["wall"]  # same instances: wall per instance has the same ratio
            lines.append(f"| {w} | {ratio:.2f} | {(r['wall'] - t['wall']) / r['instances']:+.1f} |")
    lines += ["", *grading]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
