"""`swe-search inspect PATH --export DIR`: every page written as a file, so DIR opens from file://.

The pages' links are relative and each page is saved under the path the server answers it at,
so the copy needs no server and no network; the CSS and JS come from this package.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from eval.inspector import loaders
from eval.inspector.app import STATIC, Inspector


class ExportError(ValueError):
    """The export cannot be written where asked."""


def page_paths(inspector: Inspector) -> Iterator[str]:
    """Every page and file of the inspector, as the paths the server answers them at."""
    yield "index.html"
    yield from (f"static/{p.name}" for p in sorted(STATIC.iterdir()) if p.is_file())
    yield from (f"files/{p}" for p in loaders.experiment_plots(inspector.root))
    for rel in inspector.runs():
        folder = inspector.folder(rel)
        prefix = "" if rel == "." else rel + "/"
        if rel != ".":
            yield f"{prefix}index.html"
        for instance_id in folder.instance_ids():
            yield f"{prefix}i/{instance_id}.html"
            for index in loaders.trajectory_paths(folder.path, instance_id):
                yield f"{prefix}i/{instance_id}/run-{index}.html"


def export(inspector: Inspector, out: Path) -> tuple[Path, int]:
    """Write every page under `out`; return (the index page, how many files)."""
    out = Path(out).resolve()
    if out == inspector.root or inspector.root in out.parents:
        raise ExportError(
            f"--export {out} is inside {inspector.root}: the inspector never writes into a run folder"
        )
    written = 0
    for path in page_paths(inspector):
        try:
            page = inspector.page(path)
        except Exception as e:  # noqa: BLE001 -- one page's failure is reported, the export goes on
            print(f"warning: {path} left out: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(page.body)
        written += 1
    return out / "index.html", written
