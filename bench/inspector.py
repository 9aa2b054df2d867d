"""How fast `swe-search inspect` answers on a large run folder: the overview, an instance, a run.

Generates a run folder of `--instances` x `--runs` (default 500 x 10, lookahead+select, K=4) whose
files have the shapes the runner writes (agent.trajectory's Trajectory, eval's done.json and
grades), serves it with the inspector's real HTTP server on a free loopback port, and times each
page over HTTP: the first answer and the median of `--repeat` more. The goals: overview < 2 s,
run page < 1 s. Writes bench/results/inspector.md.

    python bench/inspector.py [--instances 500] [--runs 10] [--steps 30] [--keep DIR]

`make_folder` is also the tests' generator of a large or hostile folder (tests/eval/test_inspector.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from agent.trajectory import CandidateRecord, ExitStatus, Stats, Step, Trajectory
from agent.types import Usage

RESULTS = Path(__file__).resolve().parent / "results" / "inspector.md"
HOSTILE = "<script>alert(1)</script>"
OBSERVATION = "".join(
    f"line {i}: some output of the command, as a test runner prints it\n" for i in range(12)
)


def _trajectory(instance_id: str, index: int, steps: int, k: int, rng: random.Random, hostile: bool) -> str:
    traj = Trajectory(
        instance_id=instance_id,
        run_id="bench",
        config={"strategy": {"strategy": "lookahead+select", "k": k, "n": 10}},
    )
    for t in range(steps):
        qs = [round(rng.random(), 4) for _ in range(k)]
        chosen = max(range(k), key=qs.__getitem__)
        cands = [
            CandidateRecord(
                text=f"I look at the code.\n```\ngrep -n def{j} src/module.py\n```",
                command=f"grep -n def{j} src/module.py",
                q=qs[j],
                count=2 if j == 0 and t % 3 == 0 else 1,
            )
            for j in range(k)
        ]
        obs = OBSERVATION + (HOSTILE if hostile and t == 1 else "")
        traj.steps.append(
            Step(
                index=t,
                response=cands[chosen].text,
                thought="I look at the code.",
                action=cands[chosen].command,
                observation=obs,
                exit_code=0,
                candidates=cands,
                chosen_index=chosen,
                usage=Usage(prompt_tokens=1500 + 40 * t, completion_tokens=60, cost=0.0),
                critic_calls=1,
            )
        )
        traj.messages += [
            {"role": "assistant", "content": cands[chosen].text},
            {"role": "user", "content": obs},
        ]
    traj.stats = Stats(steps=steps, usage=Usage(prompt_tokens=1500 * steps, completion_tokens=60 * steps))
    traj.stats.wall_time = 12.5
    traj.exit_status = ExitStatus.submitted
    traj.patch = "diff --git a/src/module.py b/src/module.py\n--- a/src/module.py\n+++ b/src/module.py\n@@ -1,2 +1,2 @@\n-x = 1\n+x = 2\n"
    traj.final_q = traj.steps[-1].candidates[traj.steps[-1].chosen_index].q
    return Trajectory.model_validate(traj.model_dump()).to_json()


def make_folder(
    out: Path, instances: int = 500, runs: int = 10, steps: int = 30, k: int = 4, hostile: bool = False
) -> Path:
    """A finished lookahead+select run folder of the runner's shape; `hostile` puts HOSTILE in observations."""
    rng = random.Random(0)
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps({"run_id": "bench", "created": time.time()}))
    config = {
        "model": "bench",
        "search": {"strategy": "lookahead+select", "k": k, "n": runs, "rule": "final_q"},
    }
    (out / "config.yaml").write_text(yaml.safe_dump(config))
    texts = [_trajectory("t", i, steps, k, rng, hostile) for i in range(min(runs, 4))]
    for n in range(instances):
        iid = f"bench__lib-{n}"
        tdir = out / "trajectories" / iid
        recs, grades = [], []
        for i in range(runs):
            path = tdir / f"run-{i}" / "trajectory.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            data = json.loads(texts[i % len(texts)])
            data["instance_id"] = iid
            path.write_text(json.dumps(data, ensure_ascii=False, indent=1))
            resolved = rng.random() < 0.4
            recs.append(
                {
                    "index": i,
                    "trajectory": path.relative_to(out).as_posix(),
                    "exit_status": "submitted",
                    "steps": steps,
                    "final_q": data["final_q"],
                    "mean_q": 0.5,
                    "submitted": True,
                    "patch_empty": False,
                    "grade_status": "resolved" if resolved else "unresolved",
                    "resolved": resolved,
                }
            )
            tests = {
                "success": ["tests/test_a.py::test_one"],
                "failure": [] if resolved else ["tests/test_a.py::test_two"],
            }
            grades.append(
                {
                    "index": i,
                    "status": recs[-1]["grade_status"],
                    "resolved": resolved,
                    "message": "",
                    "patch": data["patch"],
                    "report": {
                        "tests_status": {
                            "FAIL_TO_PASS": tests,
                            "PASS_TO_PASS": {"success": ["tests/test_b.py::test_x"], "failure": []},
                        }
                    },
                }
            )
        chosen = max(range(runs), key=lambda i: (recs[i]["final_q"], -i))
        selection = {
            "rule": "final_q",
            "seed": 0,
            "chosen": chosen,
            "reason": f"highest final_q {recs[chosen]['final_q']}",
            "runs": [
                {
                    "index": r["index"],
                    "status": "submitted",
                    "submitted": True,
                    "final_q": r["final_q"],
                    "mean_q": 0.5,
                    "error": None,
                    "patch_empty": False,
                }
                for r in recs
            ],
        }
        (tdir / "selection.json").write_text(json.dumps(selection, indent=2))
        (out / "grades").mkdir(exist_ok=True)
        (out / "grades" / f"{iid}.json").write_text(
            json.dumps(
                {
                    "instance_id": iid,
                    "chosen": chosen,
                    "status": grades[chosen]["status"],
                    "resolved": grades[chosen]["resolved"],
                    "runs": grades,
                },
                indent=1,
            )
        )
        done = out / "instances" / iid / "done.json"
        done.parent.mkdir(parents=True, exist_ok=True)
        pick = recs[chosen]
        done.write_text(
            json.dumps(
                {
                    "schema_version": 2,
                    "instance_id": iid,
                    "status": "error" if n % 50 == 49 else "ok",
                    "error_kind": "container_error" if n % 50 == 49 else None,
                    "error": "the container was killed" if n % 50 == 49 else None,
                    "chosen": chosen,
                    "model_patch": pick and grades[chosen]["patch"],
                    "exit_status": "submitted",
                    "grade_status": pick["grade_status"],
                    "resolved": pick["resolved"],
                    "runs": recs,
                    "cost": 0.0,
                    "duration": 60.0 + n % 7,
                },
                indent=1,
            )
        )
    return out


def _get(url: str) -> tuple[float, int]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        body = r.read()
    return time.perf_counter() - start, len(body)


def measure(folder: Path, repeat: int) -> dict[str, dict[str, Any]]:
    """First and median answer time of each page, over the real server on a free loopback port."""
    from eval.inspector.app import Inspector
    from eval.inspector.server import make_server, url_of

    server = make_server(Inspector(folder), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = url_of(server)
    iid = sorted(p.name for p in (folder / "instances").iterdir())[0]
    pages = {"overview": "", "instance": f"i/{iid}.html", "run page": f"i/{iid}/run-0.html"}
    out = {}
    try:
        for name, path in pages.items():
            first, size = _get(url + path)
            times = [_get(url + path)[0] for _ in range(repeat)]
            out[name] = {"first": first, "median": statistics.median(times), "max": max(times), "bytes": size}
    finally:
        server.shutdown()
        server.server_close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("-k", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="inspect-bench-")) / "run"
    try:
        t0 = time.perf_counter()
        reused = (folder / "instances").is_dir()
        if not reused:
            make_folder(folder, args.instances, args.runs, args.steps, args.k)
        made = "reused" if reused else f"generated in {time.perf_counter() - t0:.0f} s"
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        pages = measure(folder, args.repeat)
        load = os.getloadavg()[0]
    finally:
        if args.keep is None:
            shutil.rmtree(folder.parent, ignore_errors=True)
    goals = {"overview": 2.0, "instance": 1.0, "run page": 1.0}
    rows = [
        f"| {name} | {m['first']:.3f} s | {m['median']:.3f} s | {m['max']:.3f} s | {m['bytes'] / 1e3:.0f} kB | < {goals[name]:g} s |"
        for name, m in pages.items()
    ]
    text = "\n".join(
        [
            f"# `swe-search inspect` on {args.instances} instances x {args.runs} runs ({datetime.date.today()})",
            "",
            f"A generated lookahead+select run folder: {args.steps} steps per run, K={args.k}, "
            f"{size / 1e6:.0f} MB on disk ({made}). Each page over HTTP from the real "
            f"server on loopback: the first answer, then the median and worst of {args.repeat} more "
            f"(load average {load:.1f} during the run; the files were in the page cache, as just written).",
            "",
            "| page | first | median | worst | size | goal |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            "- produced by `python bench/inspector.py`",
        ]
    )
    RESULTS.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
