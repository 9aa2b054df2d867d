"""The packages' imports, read with `ast` (nothing is imported): no import cycle among the modules,
and no arrow from a lower layer to a higher one (envs < agent < search < eval; critic uses only
agent and envs; search uses the critic only through critic.protocol; nothing below eval imports it)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "agent", "search", "critic", "eval")
MAY_IMPORT = {
    "envs": {"envs"},
    "agent": {"envs", "agent"},
    "search": {"envs", "agent", "search"},
    "critic": {"envs", "agent", "critic"},
    "eval": {"envs", "agent", "search", "critic", "eval"},
}
SEAMS = {"search": {"critic.protocol"}}
"""Single modules a package may import from one it otherwise may not: search's Critic protocol."""


def allowed(src: str, dst: str) -> bool:
    return dst.split(".")[0] in MAY_IMPORT[src.split(".")[0]] or dst in SEAMS.get(src.split(".")[0], set())


def modules() -> dict[str, Path]:
    """Every module of the packages by dotted name (a package by its __init__)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that `name` imports anywhere in its file (also inside functions and
    TYPE_CHECKING blocks: an import on use is still an arrow)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in known else base)
    return {m for m in out if m in known and m != name}


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(name, path, known) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_among_the_modules() -> None:
    edges = graph()
    assert {"envs.newtask", "eval.batch.runner", "critic.train.loop"} <= set(edges)  # the packages were read
    assert cycles(edges) == []


def test_no_import_runs_up_the_layers() -> None:
    wrong = sorted(
        f"{src} imports {dst}" for src, targets in graph().items() for dst in targets if not allowed(src, dst)
    )
    assert wrong == []


def test_the_checks_catch_a_cycle_and_an_upward_arrow() -> None:
    """The two checks above can fail: a made-up graph with both faults is caught."""
    edges = {"envs.a": {"eval.b"}, "eval.b": {"eval.c"}, "eval.c": {"eval.b", "envs.a"}}
    assert cycles(edges) == [["envs.a", "eval.b", "eval.c"]]
    assert not allowed("envs.newtask", "eval.grading") and not allowed("critic.cli", "search.solve")
    assert allowed("search.solve", "critic.protocol") and not allowed("search.solve", "critic.factory")
