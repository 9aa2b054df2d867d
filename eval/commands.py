"""The commands behind `swe-search run`, `eval`, `report` and `experiment` (the parser and the entry
point are eval.cli), with the exit codes and the pre-flight errors they share. Heavy parts are
imported inside each command, so loading this module stays fast."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from agent.redaction import scrub_text  # standard library only: --help stays fast
from envs.types import DockerUnavailable

if TYPE_CHECKING:
    from rich.console import Console

    from envs.newtask import TaskCheck
    from eval.batch.config import RunConfig


EXIT_USAGE = 2
EXIT_INFRA = 3
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A pre-flight check failed: the command cannot run as given (exit code 2, no traceback)."""


def preflight_errors() -> tuple[type[BaseException], ...]:
    """Errors that, raised before any container starts, mean "fix the command"."""
    from agent.configfile import ConfigError
    from agent.policies import PolicyError
    from critic.errors import CriticUnavailable
    from eval.batch.records import RunnerError
    from search.config import MissingCritic

    return (
        ConfigError,
        PolicyError,
        CriticUnavailable,
        DockerUnavailable,
        MissingCritic,
        RunnerError,
        OSError,  # a path that does not exist, is too long or cannot be read, given as a flag
        ValueError,
    )


FLAG_KEYS: dict[str, str | tuple[str, ...]] = {
    "dataset": "dataset",
    "fields_from": "fields_from",
    "spec": "spec",
    "instances": "instances",
    "slice": "slice",
    "filter": "filter",
    "shuffle": "shuffle",
    "shard": "shard",
    "model": "model",
    "base_url": "base_url",
    "critic": "critic",
    "strategy": "search.strategy",
    "k": "search.k",
    "n": "search.n",
    "temperature": ("search.temperature", "search.greedy_temperature"),  # whatever the strategy
    "rule": "search.rule",
    "concurrency": "search.concurrency",
    "seed": "search.seed",
    "workers": "workers",
    "executor": "executor",
    "ray_address": "ray.address",
    "out": "out",
    "run_id": "run_id",
    "step_limit": "agent.step_limit",
    "cost_limit": "agent.cost_limit",
    "command_timeout": "agent.command_timeout",
    "instance_timeout": "instance_timeout",
    "grade_timeout": "grade_timeout",
    "retry_errors": "retry_errors",
    "build_images": "build_images",
}


@contextmanager
def preflight() -> Iterator[None]:
    """Turn the errors of the checks made before any container starts into a UsageError: one line, no
    secret."""
    try:
        yield
    except preflight_errors() as e:
        raise UsageError(" ".join(scrub_text(str(e)).split()) or type(e).__name__) from e


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The effective RunConfig: file, then flags, then overrides."""
    from eval.batch.config import RunConfig

    ids = args.instances or []
    stray = [i for i in ids if "=" in i]  # `--instances a b key=value`: argparse gave the override to the ids
    args = argparse.Namespace(
        **{**vars(args), "instances": [i for i in ids if "=" not in i] or args.instances}
    )
    return RunConfig.from_args(args, FLAG_KEYS, [*args.overrides, *stray, *args.set_])


def print_summary(report_md: Path, console: Console) -> None:
    """The Pass@1 table and where the report is."""
    import json
    import shlex

    from rich.table import Table

    from eval.report import run_report as reports

    data = json.loads((report_md.parent / "report.json").read_text())
    table = Table(title="swe-search", show_header=False)
    for name, value in reports.pass_at_1_rows(data):
        table.add_row(name, value)
    console.print(table)
    console.print(f"report: {report_md}")
    # print, not the console: the command stays one line that can be copied, however narrow the terminal
    print(f"see every decision: swe-search inspect {shlex.quote(str(report_md.parent))}")


def cmd_run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from agent.policies import check_api_key

    out_console, err = Console(), Console(stderr=True)
    with preflight():
        config = config_from_args(args)
        check_api_key(config.model, config.base_url, **config.policy)  # said at once: no import, no network
        from eval.batch.prepare import prepare  # swebench, datasets, docker: after what needs none of them

        batch = prepare(config, force=args.force)  # policy, critic, dataset: no container yet
    if batch.set_aside is not None:
        err.print(f"--force: the earlier run in {batch.out} was moved to {batch.set_aside}", soft_wrap=True)
    err.print(
        f"run {batch.run_id}: {len(batch.tasks)} instance(s), model {config.model}, strategy "
        f"{config.search.strategy}, {config.workers} worker(s) -> {batch.out}"
    )
    from eval.batch.run import run_batch
    from eval.report import run_report as reports

    finished = run_batch(batch, err, progress=not args.no_progress)
    md = reports.write_report(batch.out, expected=len(batch.tasks))
    print_summary(md, out_console)
    if not finished:
        err.print("interrupted: rerun the same command to finish the remaining instances")
        return EXIT_INTERRUPTED
    return _failures(batch.out, [t.instance_id for t in batch.tasks], err)


def _failures(out: Path, ids: list[str], err: Console) -> int:
    """Say once why instances failed for infrastructure reasons; EXIT_INFRA when all of them did."""
    from rich.markup import escape

    from eval.batch.records import failure_summary, load_records

    records = load_records(out)
    every, message = failure_summary([records[i] for i in ids if i in records])
    if message:
        text = escape(message)
        err.print(f"[red]{text}[/]" if every else f"[yellow]{text}[/]", highlight=False, soft_wrap=True)
    return EXIT_INFRA if every else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rich.console import Console

    from eval.batch.prepare import match_predictions, select_tasks
    from eval.batch.records import RunnerError
    from eval.batch.run import grade_predictions
    from eval.report import run_report as reports

    out_console, err = Console(), Console(stderr=True)
    with preflight():
        if not args.predictions.is_file():
            raise RunnerError(f"predictions file {args.predictions} not found")
        tasks = select_tasks(
            args.dataset,
            args.instances,
            args.slice,
            args.filter,
            args.shuffle,
            args.shard,
            check=False,
            fields_from=args.fields_from,
            spec=args.spec,
        )
        match_predictions(args.predictions, tasks)  # and checks that the matched tasks can be graded
    out = args.out or Path("runs") / f"eval-{args.predictions.stem}"
    finished = grade_predictions(
        args.predictions,
        tasks,
        out,
        workers=args.workers,
        run_id=args.run_id,
        timeout=args.grade_timeout,
        build=args.build_images,
        console=err,
        progress=not args.no_progress,
    )
    md = reports.write_report(out)
    print_summary(md, out_console)
    if not finished:
        return EXIT_INTERRUPTED
    return _failures(out, [t.instance_id for t in tasks], err)


def cmd_report(args: argparse.Namespace) -> int:
    from eval.report import run_report as reports

    if not (args.run_dir / "instances").is_dir():
        raise UsageError(f"{args.run_dir} is not a run folder (no instances/ inside)")
    md = reports.write_report(args.run_dir)
    import json

    from rich.console import Console
    from rich.markup import escape

    err = Console(stderr=True)
    for bad in json.loads((md.parent / "report.json").read_text())["damaged"]:  # each named once
        err.print(f"[yellow]damaged: {escape(bad['file'])}: {escape(bad['problem'])}[/]", soft_wrap=True)
    print_summary(md, Console())
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from rich.console import Console

    from eval.experiment import cli as experiment_cli

    with preflight():  # config, splits, policy, Docker: no container yet
        experiment = experiment_cli.prepare_experiment(args)
    return experiment_cli.run_and_print(experiment, Console(), EXIT_INTERRUPTED)


def task_check() -> TaskCheck:
    """`tasks new`'s checks through swebench grading (eval.newtask), imported on use."""
    from eval.newtask import GradingCheck

    return GradingCheck()
