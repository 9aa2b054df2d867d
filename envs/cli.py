"""`swe-search images ...` and `swe-search envs ...`: register with `add_parsers(subparsers)`.

Each subcommand sets `func(args) -> int` on its namespace; the main CLI calls it.
"""

from __future__ import annotations

import argparse
import logging

from envs.types import EnvError


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register `images base|build` and `envs cleanup|engine`."""
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


def _images_base(args: argparse.Namespace) -> int:
    from envs.images import build_base

    _log()
    tag = build_base(python=args.python, from_image=args.from_image, mirror=args.mirror, force=args.force)
    print(tag)
    return 0


def _images_build(args: argparse.Namespace) -> int:
    from envs.images import build_task_images
    from envs.tasks import load_tasks

    _log()
    tasks = load_tasks(args.dataset, instances=args.instances)
    built = build_task_images(tasks, force=args.force, base_image=args.base_image, report=print)
    print(f"built {len(built)} of {len(tasks)} task images")
    return 0


def _envs_cleanup(args: argparse.Namespace) -> int:
    from envs.docker import cleanup, live_containers

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
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except EnvError as e:
        parser.exit(1, f"error: {e}\n")


if __name__ == "__main__":
    raise SystemExit(main())
