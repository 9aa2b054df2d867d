"""The flags of `swe-search inspect` (registered in eval/cli.py) and what the command does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_USAGE = 2
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
ANY_HOST = "0.0.0.0"

DESCRIPTION = """\
A local web page of a run folder, a folder of runs, or an experiment: the overview of every
instance, each instance's N runs and selection's pick, and each run's steps with every candidate
action and its Q, the chosen one marked, the patch and the tests. It reads the files on demand and
never writes into PATH; a run that is still going shows what has landed and refreshes.

examples:
  swe-search inspect runs/lookahead                 # serve on http://127.0.0.1:8765/
  swe-search inspect experiments/exp1 --port 9000
  swe-search inspect runs/lookahead --export site/  # a static copy: open site/index.html, no server
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "path", type=Path, metavar="PATH", help="a run folder, a folder of runs, or an experiment folder"
    )
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to serve on (default {DEFAULT_PORT}; 0: any free one)",
    )
    p.add_argument(
        "--host",
        nargs="?",
        const=ANY_HOST,
        default=DEFAULT_HOST,
        help=f"address to bind (default {DEFAULT_HOST}, this machine only); `--host` alone binds {ANY_HOST}: "
        "anyone who can reach this machine can then read the trajectories",
    )
    p.add_argument(
        "--export", type=Path, metavar="DIR", help="write a static copy into DIR instead of serving"
    )


def run(args: argparse.Namespace) -> int:
    """Serve (until Ctrl-C) or export. Exit code 0, or 2 for a path or port that cannot be used."""
    from eval.inspector.app import Inspector
    from eval.inspector.export import ExportError, export
    from eval.inspector.loaders import InspectError

    try:
        inspector = Inspector(args.path, live=args.export is None)
    except InspectError as e:
        print(f"swe-search inspect: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.export is not None:
        try:
            index, count = export(inspector, args.export)
        except (ExportError, OSError) as e:
            print(f"swe-search inspect: error: {e}", file=sys.stderr)
            return EXIT_USAGE
        print(f"wrote {count} files; open {index.as_uri()}")
        return 0
    from eval.inspector.server import make_server, url_of

    try:
        server = make_server(inspector, args.host, args.port)
    except OSError as e:
        print(
            f"swe-search inspect: error: cannot listen on {args.host}:{args.port} ({e.strerror or e}); "
            "pass another --port (0 picks a free one)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    print(f"swe-search inspect: {inspector.kind} {inspector.root}", flush=True)
    print(f"open {url_of(server)}  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
