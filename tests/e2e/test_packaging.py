"""A wheel of the project works on its own: `pip install swe-search` (not only `pip install -e .`)
finds the YAML defaults in configs/, which ship beside the packages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers.commands import pip_wheel

ROOT = Path(__file__).resolve().parents[2]

LOAD_DEFAULTS = """
import json
import agent.config, critic.config, eval.batch.config, search.config
print(json.dumps({
    "dirs": [str(agent.config.CONFIG_DIR), str(eval.batch.config.CONFIG_DIR),
             str(search.config.DEFAULTS_PATH.parent), str(critic.config.DEFAULT_YAML.parent)],
    "run": eval.batch.config.RunConfig.load().model_dump(mode="json"),
    "agent": agent.config.AgentConfig.load().model_dump(mode="json"),
    "search": search.config.SearchConfig.load().model_dump(mode="json"),
    "critic": critic.config.CriticConfig.load().model_dump(mode="json"),
}))
"""


def _defaults(cwd: Path, pythonpath: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_DEFAULTS], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_an_installed_wheel_reads_the_same_defaults_as_the_source_tree(tmp_path):
    src = tmp_path / "src"  # build from a copy: setuptools writes build/ and egg-info beside the sources
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("agent", "search", "critic", "envs", "eval", "configs"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    build = pip_wheel(src, wheels)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("swe_search-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        zf.extractall(site)
    shipped = {Path(n).name for n in names if n.startswith("configs/")}
    assert shipped == {p.name for p in (ROOT / "configs").glob("*.yaml")}
    pages = {n for n in names if n.startswith("eval/inspector/") and not n.endswith(".py")}
    assert pages == {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "eval" / "inspector").rglob("*")
        if p.suffix in (".html", ".css", ".js")
    }, "swe-search inspect's templates and static files must ship in the wheel"

    installed = _defaults(tmp_path, site)  # from a folder outside the repository
    assert all(Path(d) == site / "configs" for d in installed["dirs"]), installed["dirs"]
    source = _defaults(ROOT, ROOT)
    assert all(Path(d) == ROOT / "configs" for d in source["dirs"])
    for part in ("run", "agent", "search", "critic"):
        assert installed[part] == source[part], part
