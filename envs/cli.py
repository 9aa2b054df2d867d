"""`swe-search images ...`, `tasks new` and `envs ...`: register with `add_env_commands(subparsers)`.

Each subcommand sets `func(args) -> int` on its namespace; the main CLI calls it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from envs.types import EnvError

if TYPE_CHECKING:
    from envs.newtask import TaskCheck


def add_env_commands(
    subparsers: argparse._SubParsersAction, task_check: Callable[[], TaskCheck] | None = None
) -> None:
    """Register `images base|build`, `envs cleanup|engine` and, given the grading that checks a new
    task (`task_check`, from a layer above: eval.commands.task_check), `tasks new`."""
    images = subparsers.add_parser("images", help="build the base image and task images")
    images_sub = images.add_subparsers(dest="images_command", required=True)

    base = images_sub.add_parser(
        "base",
        help="build the Debian base image (python3, pip, pytest, git, patch) offline",
        description="Build swe-search/base:<suite> with debootstrap + `docker import` (no registry needed). "
        "Skipped when the tag exists, unless --force.",
    )
    base.add_argument(
        "--python",
        choices=["3.11", "3.9"],
        default="3.11",
        help="3.11 -> Debian bookworm, 3.9 -> Debian bullseye",
    )
    base.add_argument(
        "--from",
        dest="from_image",
        metavar="IMAGE",
        help="build on this (registry) image with apt-get instead",
    )
    base.add_argument(
        "--mirror", metavar="URL", help="Debian mirror for debootstrap (default: this machine's apt sources)"
    )
    base.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    base.set_defaults(func=_images_base)

    build = images_sub.add_parser(
        "build",
        help="build the task images of a dataset (task-repo Dockerfiles on the base image)",
        description="Build one image per task from its Dockerfile, tagged with the task's image name. "
        "An image is rebuilt only when its build context or the base image changed, unless --force.",
    )
    build.add_argument(
        "dataset", help="a task-repo folder (e.g. examples/tasks) or any dataset load_tasks accepts"
    )
    build.add_argument("--instances", nargs="+", metavar="ID", help="only these instance ids")
    build.add_argument("--base-image", metavar="TAG", help="base image (default: swe-search/base:bookworm)")
    build.add_argument("--force", action="store_true", help="rebuild even if an image is up to date")
    build.set_defaults(func=_images_build)

    if task_check is not None:
        _add_tasks(subparsers, task_check)

    envs = subparsers.add_parser("envs", help="manage the Docker engine and task containers")
    envs_sub = envs.add_subparsers(dest="envs_command", required=True)
    cleanup = envs_sub.add_parser(
        "cleanup",
        help="remove containers left behind by swe-search (of runs that no longer run)",
        description="Remove the containers labelled swe-search=1 (or only those of one run) whose owner "
        "process is gone, e.g. after a kill -9. Containers of a run that is still going are kept, and "
        "counted; --all removes them too.",
    )
    cleanup.add_argument("--run-id", metavar="ID", help="only containers of this run")
    cleanup.add_argument(
        "--all",
        dest="all_owners",
        action="store_true",
        help="also remove the containers of live runs (they fail at their next command)",
    )
    cleanup.set_defaults(func=_envs_cleanup)
    engine = envs_sub.add_parser(
        "engine",
        help="make sure a Docker daemon runs (installs docker.io and starts dockerd as root on Debian/Ubuntu)",
        description="Idempotent: does nothing when a daemon already answers.",
    )
    engine.set_defaults(func=_envs_engine)


TASKS_NEW_EPILOG = """\
examples:
  swe-search tasks new --repo ~/src/mylib --commit 3f2a9c1 --out my-tasks
  swe-search tasks new --repo ~/src/mylib --commit v1.2..fix-parser --tests 'spec/*' --wheels wheels/ \\
      --issue issue-42.md --id me__mylib-42 --out my-tasks
  swe-search run --dataset my-tasks --model scripted:gold     # gold must resolve

Fill --wheels on a machine with a registry, e.g. `pip download -d wheels/ -r requirements.txt`.
Exit codes: 0 task written, 2 bad input or the tests do not separate the fix (nothing kept),
1 Docker or a build failed. The whole path: docs/tasks.md.
"""


def _add_tasks(subparsers: argparse._SubParsersAction, task_check: Callable[[], TaskCheck]) -> None:
    from envs.fixcommit import DEFAULT_TESTS

    tasks = subparsers.add_parser("tasks", help="make swebench tasks from your own repositories")
    tasks_sub = tasks.add_subparsers(dest="tasks_command", required=True)
    new = tasks_sub.add_parser(
        "new",
        help="a swebench 5 task from a fix commit of a local git repository (docs/tasks.md)",
        description="Split the fix into gold.patch and test.patch, build the repository at the base commit "
        "(upstream sha kept) with offline wheels, run its tests before and after the fix to find FAIL_TO_PASS "
        "and PASS_TO_PASS (swebench's parser), check that gold resolves and the base does not, and write the "
        "task into a swebench 5 task repo. A fix no test separates is refused (exit 2).",
        epilog=TASKS_NEW_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    new.add_argument("--repo", type=Path, required=True, help="a local git repository")
    new.add_argument(
        "--commit",
        required=True,
        metavar="FIX",
        help="the fix: a commit (its parent is the base) or BASE..FIX",
    )
    new.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="TASK_REPO",
        help="task repo to add to (created if missing)",
    )
    new.add_argument("--id", dest="instance_id", help="instance id (default: owner__name-<short fix sha>)")
    new.add_argument(
        "--tests",
        action="append",
        metavar="GLOB",
        help="test files of the fix (repeatable; a GLOB without / matches file names, one with / the path; "
        f"default: {' '.join(DEFAULT_TESTS)})",
    )
    new.add_argument(
        "--python", choices=["3.11", "3.9"], default="3.11", help="base image: 3.11 bookworm, 3.9 bullseye"
    )
    new.add_argument(
        "--wheels",
        type=Path,
        metavar="DIR",
        help="wheels of the dependencies, installed offline in the image",
    )
    new.add_argument(
        "--issue", type=Path, metavar="FILE", help="problem statement (default: the fix's commit message)"
    )
    new.add_argument(
        "--no-install",
        dest="install_project",
        action="store_false",
        help="do not pip install the project itself (editable) in the image",
    )
    new.add_argument("--timeout", type=float, default=900.0, help="seconds one test run may take")
    new.set_defaults(func=_tasks_new, task_check=task_check)


def _tasks_new(args: argparse.Namespace) -> int:
    from envs.newtask import DEFAULT_TESTS, NewTask, NewTaskError, new_task

    spec = NewTask(
        repo=args.repo,
        commit=args.commit,
        out=args.out,
        instance_id=args.instance_id,
        tests=args.tests or DEFAULT_TESTS,
        python=args.python,
        wheels=args.wheels,
        issue=args.issue,
        install_project=args.install_project,
        timeout=args.timeout,
    )
    try:
        new_task(spec, args.task_check())
    except NewTaskError as e:
        print(f"swe-search tasks new: error: {e}", file=sys.stderr)
        return 2
    return 0


def _images_base(args: argparse.Namespace) -> int:
    from envs.images import build_base

    _log()
    tag = build_base(python=args.python, from_image=args.from_image, mirror=args.mirror, force=args.force)
    print(tag)
    return 0


def _images_build(args: argparse.Namespace) -> int:
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from envs.images import build_task_images
    from envs.tasks import load_tasks

    _log()
    tasks = load_tasks(args.dataset, instances=args.instances)
    built: list[str] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # one line per image as it finishes; on a terminal also a bar and the build step under way
    with Progress(*columns, TextColumn("[dim]{task.fields[step]}"), console=Console()) as progress:
        bar = progress.add_task("images", total=len(tasks), step="")
        for task in tasks:
            progress.update(bar, description=task.instance_id, step="")
            started = time.monotonic()
            lines: list[str] = []
            done = build_task_images(
                [task],
                force=args.force,
                base_image=args.base_image,
                report=lines.append,
                on_log=lambda line: progress.update(bar, step=line[:60]),
            )
            took = f" in {time.monotonic() - started:.0f}s" if done else ""
            line = f"{task.instance_id}: built {task.image}{took}" if done else lines[-1]
            progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
            built += done
            progress.advance(bar)
        progress.update(bar, description="images", step="")
    print(f"built {len(built)} of {len(tasks)} task images")
    return 0


def _envs_cleanup(args: argparse.Namespace) -> int:
    from envs.container import cleanup, live_containers

    removed = cleanup(run_id=args.run_id, all_owners=args.all_owners)
    kept = live_containers(args.run_id)
    note = f"; kept {kept} of runs still going (--all removes them too)" if kept else ""
    print(f"removed {removed} containers{note}")
    return 0


def _envs_engine(args: argparse.Namespace) -> int:
    from envs.engine import main

    return main()


def _log() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (`python -m envs.cli ...`) until the main CLI wires these in."""
    parser = argparse.ArgumentParser(prog="swe-search")
    add_env_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except EnvError as e:
        parser.exit(1, f"error: {e}\n")


if __name__ == "__main__":
    raise SystemExit(main())
