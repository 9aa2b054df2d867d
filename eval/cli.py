"""The `swe-search` command line.

    swe-search run [-c configs/run.yaml] [flags] [key.path=value ...]   solve, grade, report
    swe-search eval --predictions preds.jsonl --dataset DATASET         grade a predictions file
    swe-search report RUN_DIR                                           rewrite a run's report
    swe-search experiment [-c configs/experiment.yaml] [key.path=value ...]  collect, train, evaluate, table
    swe-search inspect PATH [--port 8765] [--host] [--export DIR]       a web page of runs (eval.inspector)
    swe-search images base|build ...  /  swe-search envs cleanup       (envs.cli)
    swe-search tasks new --repo PATH --commit FIX --out TASK_REPO      a task from a fix commit (envs.cli)
    swe-search critic train|serve ...                                   (critic.cli)

Exit codes: 0 done, 1 unexpected failure, 2 bad usage or a failed pre-flight check (nothing
started), 3 every instance failed for infrastructure reasons (model server, containers, grading:
nothing the model did; rerun the same command to redo them), 130 interrupted by SIGINT/SIGTERM
(finished instances kept, containers removed; rerun the same command to resume; a second signal
exits at once and a background process removes the containers).

The heavy parts (the runner, swebench, docker-py, the policies) are imported by the commands that
use them, so `--help` and usage errors answer at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import critic.cli
import envs.cli
from agent.progress import silence_library_progress  # standard library only
from agent.redaction import scrub_text  # standard library only: --help stays fast
from envs.types import EnvError, TaskSourceError

if TYPE_CHECKING:
    pass
from eval.commands import (
    EXIT_INFRA,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UsageError,
    cmd_eval,
    cmd_experiment,
    cmd_report,
    cmd_run,
    preflight_errors,
    task_check,
)

__all__ = ["EXIT_INFRA", "EXIT_INTERRUPTED", "EXIT_USAGE", "build_parser", "main"]


def __getattr__(name: str) -> Any:
    if name == "PREFLIGHT_ERRORS":  # the old constant, now imported only when asked for
        return preflight_errors()
    raise AttributeError(f"module 'eval.cli' has no attribute {name!r}")


RUN_EXAMPLES = """\
examples:
  swe-search run -c configs/demo.yaml                      # offline demo: SmolLM2 + tiny critic, example tasks
  swe-search run --strategy lookahead --model qwen72b --critic http://localhost:8008 --dataset verified -w 8
  swe-search run --strategy lookahead+select -K 4 -N 5 --model gpt-4o --critic ckpt/ --slice 0:50
  swe-search run --strategy lookahead -K 4 --model gpt-4o --critic judge:gpt-4o-mini --dataset verified
  swe-search run --strategy select -N 5 --model gpt-4o --critic judge:Qwen2.5-72B-Instruct@http://vllm:8000/v1
  swe-search run --model scripted:gold --dataset examples/tasks   # testing aid: apply each gold patch
  swe-search run ... --shard 0/4 --out runs/x/shard-0      # one of 4 machines (docs/scaling.md)
  swe-search run ... --executor ray -w 32                  # 32 instances at once on a Ray cluster

Output folder: trajectories/<id>/, grades/<id>.json, instances/<id>/done.json, preds.jsonl,
report.json, report.md, plots/.

Resume: rerunning the same command skips finished instances (status ok or timeout) and redoes
unfinished ones and those that failed for infrastructure reasons (status error: model server
down, container killed, image missing, grading failed). A rerun whose result-changing config
differs (model, base_url, strategy, k, n, temperature, rule, critic, judge prompts, agent limits or
prompts, dataset) is refused; --force moves the old run folder aside to <out>.<timestamp> and starts afresh.

Exit codes: 0 done, 2 bad usage / failed pre-flight check (nothing started), 3 every instance
failed for infrastructure reasons (said once; rerun to redo them), 130 interrupted by SIGINT or
SIGTERM (within seconds: finished instances kept, containers removed; rerun to resume; a second
signal exits at once).
"""


class _Parser(argparse.ArgumentParser):
    """argparse that says what to do next on a bad flag (exit code 2, as argparse does)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\nsee `{self.prog} --help`\n")


class _Ids(argparse.Action):
    """`--instances a,b c --instances d`: every id, however given (commas, spaces, repeated). A
    `key.path=value` argparse hands it after the ids is an override (eval.commands.config_from_args)."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        ids = list(getattr(namespace, self.dest, None) or [])
        for value in values:
            ids += [v for v in value.replace(",", " ").split() if v]
        setattr(namespace, self.dest, ids)


def _add_selection(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("dataset selection")
    g.add_argument(
        "--dataset",
        help="verified (SWE-bench Verified from the HF hub) | an HF dataset id | a .json/.jsonl/.parquet "
        "file | a swebench task repo folder such as examples/tasks",
    )
    g.add_argument(
        "--fields-from",
        metavar="DATASET",
        help="fill classic SWE-bench rows (no eval_script, log_parser, eval_type) from this swebench 5 "
        "dataset's rows of the same instance id: an alias, an HF id such as SWE-bench/SWE-bench_Verified, "
        "or a .jsonl/.parquet file (docs/tasks.md)",
    )
    g.add_argument(
        "--spec",
        metavar="FILE",
        help="YAML {repo: {version: {test_cmd, log_parser}}}: the install spec of rows that have none "
        "(SWE-Gym and the like; docs/tasks.md)",
    )
    g.add_argument(
        "--instances",
        nargs="+",
        action=_Ids,
        metavar="ID",
        help="only these instance ids: --instances a b, --instances a,b, or repeated",
    )
    g.add_argument("--slice", help="a Python slice of the task list after shuffling, e.g. 0:50")
    g.add_argument("--filter", help="regular expression the instance ids must match")
    g.add_argument(
        "--shuffle", type=int, metavar="SEED", help="shuffle the tasks with this seed before slicing"
    )
    g.add_argument(
        "--shard",
        metavar="I/N",
        help="run only shard I of N (0-based): sorted instance ids, every N-th from I (see docs/scaling.md)",
    )


def _add_run(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run the agent and search over a dataset, grade the results, write the report",
        description="Solve tasks with a policy and a search strategy, grade every run with the tests, and "
        "write trajectories, preds.jsonl, grades and a Pass@1 report into the run folder. Running the same "
        "command again resumes: finished instances are skipped. Defaults come from configs/run.yaml; "
        "precedence: the config file < flags < key.path=value overrides.",
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "-c",
        "--config",
        type=Path,
        help="YAML run config, e.g. configs/demo.yaml (default: configs/run.yaml of the package)",
    )
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="key.path=value",
        help="config overrides, e.g. search.k=8 agent.step_limit=40",
    )
    p.add_argument(
        "--set", dest="set_", action="append", default=[], metavar="key.path=value", help="one more override"
    )
    g = p.add_argument_group("policy and search")
    g.add_argument(
        "--model",
        help="policy: an alias from configs/models.yaml (gpt-4o, qwen72b, smollm2, ...), a local model folder, "
        "any model name with --base-url, or scripted:gold|slowgold|empty|sleep (deterministic testing aids: "
        "apply the gold patch / the same after a 5 s wait / submit nothing / hang), or testbed (agent.testbed: knows each task's gold patch and "
        "decoys; knobs via policy.KEY=VALUE, e.g. policy.p_right=0.3)",
    )
    g.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (vLLM)")
    g.add_argument(
        "--strategy",
        choices=["greedy", "lookahead", "select", "lookahead+select"],
        help="greedy: one run; lookahead: K candidates per step, the critic picks; select: N runs, the "
        "critic picks one; lookahead+select: both",
    )
    g.add_argument("-K", "--k", type=int, help="lookahead: candidate actions per step (paper: 4 to 8)")
    g.add_argument("-N", "--n", type=int, help="select: independent runs per instance (paper: 5 to 15)")
    g.add_argument(
        "--temperature",
        type=float,
        help="sampling temperature of every policy call (a greedy run, lookahead candidates, select runs)",
    )
    g.add_argument("--rule", choices=["final_q", "mean_q", "random"], help="select: how to pick the run")
    g.add_argument("--concurrency", type=int, help="select: runs of one instance at the same time")
    g.add_argument("--seed", type=int, help="seed of the random selection rule")
    g.add_argument(
        "--critic",
        metavar="judge:MODEL|URL|PATH|tiny",
        help="critic: judge:ALIAS (an LLM judge, no training: a model alias of configs/models.yaml, e.g. "
        "judge:gpt-4o-mini, its key from the alias's env var) or judge:MODEL@URL (any model at an "
        "OpenAI-compatible URL, e.g. judge:Qwen2.5-72B-Instruct@http://vllm:8000/v1); judge:smollm2 runs "
        "SmolLM2-135M in-process (near chance; a demo); prompts and scoring: configs/judge.yaml, "
        "judge.KEY=VALUE; "
        "http(s) URL of `swe-search critic serve` (checked before the run; several replicas: "
        "URLs joined by commas, a run's session sticks to one), a checkpoint folder "
        "(loaded in-process), vllm+http://HOST:PORT?tokenizer=CKPT (the checkpoint served by vLLM's "
        "classify endpoint; critic/README.md), 'tiny' (an untrained tiny critic made in the run folder; "
        "a demo), const:V (constant Q; a testing aid) or none",
    )
    _add_selection(p)
    g = p.add_argument_group("limits")
    g.add_argument("--step-limit", type=int, help="agent turns per run")
    g.add_argument("--cost-limit", type=float, help="USD per run (0 disables)")
    g.add_argument("--command-timeout", type=float, help="seconds per command in the container")
    g.add_argument(
        "--instance-timeout",
        type=float,
        help="wall-clock seconds per instance (all its runs), enforced by the runner",
    )
    g.add_argument("--grade-timeout", type=float, help="seconds the tests of one grading may take")
    g = p.add_argument_group("execution")
    g.add_argument(
        "-w",
        "--workers",
        type=int,
        help="instances solved at the same time (under Ray: in flight on the cluster)",
    )
    g.add_argument(
        "--executor",
        choices=["thread", "ray"],
        help="thread (default): worker threads on this machine; ray: one Ray task per instance, each on its "
        "node's own Docker daemon, results written here (docs/scaling.md; needs the `ray` extra)",
    )
    g.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="with --executor ray: auto (default: the cluster running here, else Ray starts on this "
        "machine alone) or HOST:PORT of the head",
    )
    g.add_argument("-o", "--out", type=Path, help="run folder (default runs/<dataset>-<model>-<strategy>)")
    g.add_argument("--run-id", help="run id used to label containers (default: derived from the run folder)")
    g.add_argument(
        "--retry-errors",
        action="store_const",
        const=True,
        help="on resume, also redo instances that timed out (infrastructure errors are always redone)",
    )
    g.add_argument(
        "--force",
        action="store_true",
        help="start afresh even if --out holds a run with another config: the old folder is moved "
        "aside to <out>.<timestamp> (never deleted)",
    )
    g.add_argument(
        "--no-build",
        dest="build_images",
        action="store_const",
        const=False,
        help="do not build missing task images",
    )
    g.add_argument("--no-progress", action="store_true", help="no live progress display")
    p.set_defaults(func=cmd_run)


def _add_eval(sub: Any) -> None:
    p = sub.add_parser(
        "eval",
        help="grade a swebench predictions file",
        description="Grade every prediction of a swebench predictions file (JSONL of {instance_id, "
        "model_name_or_path, model_patch}) against the dataset's tests and write grades and a report. "
        "A grading that fails for infrastructure reasons is status error (redone by the same command "
        "again). Exit codes: 0 done, 2 bad usage, 3 every grading failed for infrastructure reasons, "
        "130 interrupted.",
    )
    p.add_argument("--predictions", type=Path, required=True, help="predictions file (.jsonl or .json)")
    _add_selection(p)
    p.add_argument("-o", "--out", type=Path, help="run folder (default runs/eval-<predictions file name>)")
    p.add_argument("-w", "--workers", type=int, default=1, help="gradings at the same time")
    p.add_argument("--run-id", help="run id used to label containers")
    p.add_argument(
        "--grade-timeout", type=float, default=1800.0, help="seconds the tests of one grading may take"
    )
    p.add_argument(
        "--no-build", dest="build_images", action="store_false", help="do not build missing task images"
    )
    p.add_argument("--no-progress", action="store_true", help="no live progress display")
    p.set_defaults(func=cmd_eval, dataset="examples/tasks")


def _add_report(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="write the report of a run folder again",
        description="Rebuild report.json, report.md and plots/ from a run folder's finished instances.",
    )
    p.add_argument("run_dir", type=Path, help="the run folder (--out of `swe-search run`)")
    p.set_defaults(func=cmd_report)


def _add_experiment(sub: Any) -> None:
    from eval.experiment.cli import add_arguments

    p = sub.add_parser(
        "experiment",
        help="collect rollouts, train a critic, evaluate base/lookahead/select/both on held-out tasks",
        description="The paper's pipeline as one resumable command (docs/experiment.md): collect graded "
        "rollouts on the train split, train the critic on them, evaluate every strategy on the held-out "
        "split, and write experiment.md/.json and plots with bootstrap intervals. Each phase is skipped "
        "once complete; rerunning the same command continues a killed experiment. Precedence: the config "
        "file < flags < key.path=value overrides.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=cmd_experiment)


def _add_inspect(sub: Any) -> None:
    from eval.inspector.cli import DESCRIPTION, add_arguments, run

    p = sub.add_parser(
        "inspect",
        help="a local web page of runs and experiments: every step's candidates, their Q, the pick",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=run)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="swe-search",
        description="Value-guided test-time search (lookahead, trajectory selection) for a SWE agent in "
        "SWE-bench Docker containers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    _add_run(sub)
    _add_eval(sub)
    _add_report(sub)
    _add_experiment(sub)
    _add_inspect(sub)
    envs.cli.add_env_commands(sub, task_check=task_check)
    critic.cli.add_critic_commands(sub)
    return parser


class _Signals:
    """SIGINT and SIGTERM: the first stops like Ctrl-C (KeyboardInterrupt in the main thread: the
    runner closes every container, keeps what finished, exits 130 within seconds); a second exits
    at once (130), leaving the removal of this process's containers to a background process."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, signum: int, frame: object) -> None:
        self.count += 1
        if self.count == 1:
            raise KeyboardInterrupt
        os.write(
            2,
            f"\nsecond {signal.Signals(signum).name}: exiting now; containers are removed in the background\n".encode(),
        )
        docker_env = sys.modules.get("envs.container")  # not imported: this process made no container
        try:
            if docker_env is not None:
                docker_env.reap_after_exit()
        finally:
            os._exit(EXIT_INTERRUPTED)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `swe-search` console script.

    SIGINT and SIGTERM are handled by _Signals while it runs. Called as the console command (argv
    None), it leaves with os._exit after an interrupt or when a hung solve thread was abandoned:
    threads cannot be killed and the pools inside one would hold the interpreter's exit; by then
    every container is removed and every file written.
    """
    silence_library_progress()  # before any command imports transformers or huggingface_hub
    main_thread = threading.current_thread() is threading.main_thread()
    handler = _Signals()
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)} if main_thread else {}
    try:
        code = _main(argv)
        if argv is None and code == EXIT_INTERRUPTED:  # not in-process: a caller's containers are its own
            _remove_own_containers()
        watchdog = sys.modules.get(
            "eval.batch.watchdog"
        )  # only a command that ran something can have left threads
        abandoned = watchdog is not None and watchdog.abandoned_alive()
        if argv is None and (abandoned or code == EXIT_INTERRUPTED):
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _remove_own_containers() -> None:
    """After an interrupt: remove any container this process still owns (one a worker made late)."""
    docker_env = sys.modules.get("envs.container")  # not imported: this process made no container
    if docker_env is None or not docker_env.containers_made():
        return
    try:
        docker_env.cleanup(owner_pid=os.getpid())
    except Exception as e:  # noqa: BLE001 -- best effort on the way out; `envs cleanup` does it later
        print(
            f"warning: could not remove this run's containers ({e}); run `swe-search envs cleanup`",
            file=sys.stderr,
        )


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as e:
        print(f"swe-search {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except TaskSourceError as e:  # a dataset or task folder that cannot be used as given (images build)
        print(f"swe-search {args.command}: error: {scrub_text(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except EnvError as e:  # images, containers: the machine, not the command
        print(f"swe-search {args.command}: error: {type(e).__name__}: {scrub_text(str(e))}", file=sys.stderr)
        return 1
    except Exception as e:
        records = sys.modules.get("eval.batch.records")  # RunnerError lives with the records, imported on use
        if records is None or not isinstance(e, records.RunnerError):
            raise
        # the run cannot start as asked (folder or run id in use, ...)
        print(f"swe-search {args.command}: error: {scrub_text(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
