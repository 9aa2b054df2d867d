"""The inspector's pages: a path in, HTML out, the same for the server and the static export.

Pages mirror files, so that the export is the server's answers saved under their paths and every
link is relative (it opens from file://):

    index.html                         the root: an experiment, a run's overview, or a list of runs
    <run>/index.html                   a run folder's overview (<run> relative to the root; none for
                                       a root that is itself a run folder)
    <run>/i/<id>.html                  one instance: its runs side by side, the pick and the oracle
    <run>/i/<id>/run-<k>.html          one run: the timeline, candidates with Q, the patch, the tests
    static/<file>                      the CSS and JS shipped in this package
    files/<path>                       an experiment's plot PNGs

Every text from a run (model output, file contents, commands) goes through Jinja2 with autoescape
on; no page inlines run data into a script.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import ChainableUndefined, Environment, PackageLoader, select_autoescape

from eval.experiment.layout import lookahead_pool, pool_dir
from eval.inspector import loaders
from eval.inspector.loaders import InspectError, RunFolder

PACKAGE = Path(__file__).resolve().parent
STATIC = PACKAGE / "static"
INSTANCE = re.compile(r"^(?:(?P<rel>.+)/)?i/(?P<id>[^/]+)\.html$")
RUN = re.compile(r"^(?:(?P<rel>.+)/)?i/(?P<id>[^/]+)/run-(?P<k>\d+)\.html$")
LIVE_REFRESH_S = 5


@dataclass
class Page:
    """An answer: HTTP status, content type and body."""

    status: int
    content_type: str
    body: bytes


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("eval.inspector", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=ChainableUndefined,  # files of older runs may lack a key: show nothing, not an error
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = lambda v, digits=3: "-" if v is None else f"{v:.{digits}f}"
    env.filters["urlq"] = lambda v: quote(str(v), safe="")
    env.filters["pct"] = lambda v: "n/a" if v is None else f"{100 * v:.1f}"
    env.filters["money"] = lambda v: "-" if v is None else f"${v:.4f}"
    env.filters["secs"] = lambda v: "-" if v is None else f"{v:.1f}s"
    env.filters["num"] = lambda v: "-" if v is None else f"{v:,}"
    env.filters["diff"] = loaders.diff_lines
    env.filters["fold"] = loaders.fold
    env.filters["headline"] = loaders.headline
    return env


class Inspector:
    """The pages of one root folder (a run, a folder of runs, or an experiment). Reads on demand."""

    def __init__(self, root: Path, live: bool = True) -> None:
        self.root = Path(root).resolve()
        self.kind = loaders.kind_of(self.root)
        self.live = live
        """Served (pages of unfinished runs refresh themselves) rather than exported."""
        self.env = environment()

    # ------------------------------------------------------------------ routing

    def runs(self) -> list[str]:
        """The run folders of the root, relative to it ('.' for a root that is one)."""
        return ["."] if self.kind == "run" else loaders.run_folders(self.root)

    def folder(self, rel: str | None) -> RunFolder:
        rel = rel or "."
        if rel not in self.runs():  # only folders found by walking the root: no path from a URL is trusted
            raise LookupError(f"no run folder {rel!r} under {self.root}")
        return RunFolder(self.root / rel, rel)

    def page(self, path: str) -> Page:
        """The answer for a page path (no leading slash, already unquoted)."""
        try:
            return self._page(path.lstrip("/"))
        except (LookupError, InspectError) as e:
            return self._html(404, "error.html", 0, message=str(e))

    def _page(self, path: str) -> Page:
        if path in ("", "index.html"):
            return self.root_page()
        if path.startswith("static/"):
            return self.static(path.removeprefix("static/"))
        if path.startswith("files/"):
            return self.file(path.removeprefix("files/"))
        if path.endswith("index.html") and (path == "index.html" or path.endswith("/index.html")):
            return self.overview(path.removesuffix("index.html").rstrip("/") or ".")
        if m := RUN.match(path):
            return self.run_page(m["rel"] or ".", m["id"], int(m["k"]))
        if m := INSTANCE.match(path):
            return self.instance_page(m["rel"] or ".", m["id"])
        if path.endswith("/"):
            return self._page(path + "index.html")
        raise LookupError(f"no page {path!r}")

    # ------------------------------------------------------------------ pages

    def root_page(self) -> Page:
        if self.kind == "run":
            return self.overview(".")
        if self.kind == "experiment":
            return self.experiment_page()
        rows = []
        for rel in self.runs():
            f = RunFolder(self.root / rel, rel)
            ids = f.instance_ids()
            rows.append(
                {"rel": rel, "strategy": f.strategy, "instances": len(ids), "report": f.report() or {}}
            )
        return self._html(200, "runs.html", 0, runs=rows, title=self.root.name)

    def overview(self, rel: str) -> Page:
        f = self.folder(rel)
        rows = f.rows()
        report = f.report()
        errors = [r for r in rows if r.infra]
        attempted = [r for r in rows if r.status in ("ok", "timeout")]
        running = [r for r in rows if r.status == "running"]
        totals = {
            "finished": len(rows) - len(running),
            "attempted": len(attempted),
            "resolved": sum(r.resolved for r in attempted),
            "infra_errors": len(errors),
            "running": len(running),
            "cost": sum(r.cost for r in rows),
        }
        live = bool(running) or report is None
        return self._html(
            200,
            "overview.html",
            _depth(rel),
            folder=f,
            prefix=_prefix(rel),
            rows=[r for r in rows if not r.infra],
            errors=errors,
            totals=totals,
            report=report,
            refresh=LIVE_REFRESH_S * 2 if (live and self.live) else None,
            up=self.kind != "run",
        )

    def _instance_folder(self, rel: str, instance_id: str) -> RunFolder:
        """The folder at `rel`, which must hold `instance_id` (LookupError: a 404)."""
        f = self.folder(rel)
        if instance_id not in f.instance_ids():
            raise LookupError(f"no instance {instance_id!r} in {rel}")
        return f

    def instance_page(self, rel: str, instance_id: str) -> Page:
        f = self._instance_folder(rel, instance_id)
        data = f.instance(instance_id)
        return self._html(
            200,
            "instance.html",
            _depth(rel) + 1,
            folder=f,
            prefix=_prefix(rel),
            inst=data,
            refresh=LIVE_REFRESH_S if (self.live and not data["finished"]) else None,
        )

    def run_page(self, rel: str, instance_id: str, index: int) -> Page:
        f = self._instance_folder(rel, instance_id)
        traj = f.trajectory(instance_id, index)
        if traj is None:
            raise LookupError(f"no run {index} of {instance_id!r} in {rel}")
        steps = loaders.view_steps(traj)
        grade = f.grade(instance_id, index)
        done = f.done(instance_id) or {}
        sel = f.selection(instance_id) or {}
        chosen = done.get("chosen", sel.get("chosen"))
        n_runs = len(loaders.trajectory_paths(f.path, instance_id))
        return self._html(
            200,
            "run.html",
            _depth(rel) + 2,
            folder=f,
            prefix=_prefix(rel),
            instance_id=instance_id,
            index=index,
            n_runs=n_runs,
            picked=chosen == index and n_runs > 1,
            traj=traj,
            stats=traj.get("stats") or {},
            strategy=(traj.get("config") or {}).get("strategy") or {},
            steps=steps,
            plot=loaders.q_plot(steps),
            grade=grade,
            tests=loaders.tests_of(grade),
            refresh=LIVE_REFRESH_S if (self.live and traj.get("exit_status") is None) else None,
        )

    def experiment_page(self) -> Page:
        report = loaders.read_json(self.root / "experiment.json")
        if not isinstance(report, dict):
            report = None
        results = []
        for key, res in ((report or {}).get("results") or {}).items():
            names = list(res.get("critics") or {}) or ["learned"]
            critics = [(name, r, _pools_of(name, names)) for name, r in (res.get("critics") or {}).items()]
            if not critics:  # an experiment of one learned critic, before critics were compared
                critics = [("learned", res, _pools_of("learned", names))]
            seeds = [key] if key != "pooled" else [str(s) for s in report.get("seeds", [])]
            results.append({"key": key, "res": res, "critics": critics, "seeds": seeds})
        return self._html(
            200,
            "experiment.html",
            0,
            report=report,
            results=results,
            pool_of=loaders.POOL_OF_CELL,
            folds=list(range(len(((report or {}).get("splits") or {}).get("folds") or []))) or [None],
            pool_href=lambda seed, pool, fold=None: (
                pool_dir(Path(), int(seed), pool, fold).as_posix() + "/index.html"
            ),
            plots=loaders.experiment_plots(self.root),
            runs=self.runs(),
            refresh=LIVE_REFRESH_S * 2 if (self.live and report is None) else None,
        )

    # ------------------------------------------------------------------ files

    def static(self, name: str) -> Page:
        path = STATIC / name
        if "/" in name or not path.is_file():
            raise LookupError(f"no static file {name!r}")
        return Page(200, mimetypes.guess_type(name)[0] or "application/octet-stream", path.read_bytes())

    def file(self, rel: str) -> Page:
        """An experiment's plot: a PNG that experiment_plots listed, nothing else."""
        if rel not in loaders.experiment_plots(self.root):
            raise LookupError(f"no file {rel!r}")
        return Page(200, "image/png", (self.root / rel).read_bytes())

    def _html(self, status: int, template: str, depth: int, **context: Any) -> Page:
        context.setdefault("refresh", None)
        context.setdefault("title", None)
        html = self.env.get_template(template).render(
            base="../" * depth, root_name=self.root.name, kind=self.kind, **context
        )
        return Page(status, "text/html; charset=utf-8", html.encode("utf-8"))


def _depth(rel: str) -> int:
    return 0 if rel == "." else rel.count("/") + 1


def _prefix(rel: str) -> str:
    return "" if rel == "." else rel + "/"


def _pools_of(critic: str, critics: list[str]) -> dict[str, str]:
    """The pool each cell of `critic`'s row was run in: base and select share the base pool; a
    compared critic's lookahead and both have their own (eval.experiment.layout.lookahead_pool)."""
    own = lookahead_pool(critic, critics)
    return {**loaders.POOL_OF_CELL, "lookahead": own, "both": own, "oracle_both": own}
