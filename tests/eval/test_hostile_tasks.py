"""Hostile task folders (issue 26, items 1 and 2): ids that would escape `--out`, and files that link
outside their task folder. Each is refused in pre-flight, one line, exit 2, before any container or
model call, and nothing is written outside `--out`.

The real CLI runs in-process (`eval.cli.main`); the task repo is a copy of one example task.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from envs.tasks import MAX_ID_BYTES, check_instance_id, load_tasks
from envs.types import TaskSourceError
from eval.batch.records import RunnerError, read_preds
from eval.cli import EXIT_USAGE, main
from tests.helpers.containers import labelled_containers

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tasks"
TASK = "swe-search__textkit-1"
BAD_IDS = {
    "escapes --out": "../../../escaped/pwned",
    "separator, spaces, unicode": "owner/repo with spaces ünïcödé-1",
    "too long": "x" * 300,
}


def task_repo(root: Path) -> Path:
    repo = root / "tasks-copy"
    (repo / "tasks").mkdir(parents=True)
    shutil.copy(EXAMPLES / "sweb.yaml", repo / "sweb.yaml")
    shutil.copytree(EXAMPLES / "tasks" / TASK, repo / "tasks" / TASK, symlinks=True)
    return repo


def set_id(repo: Path, instance_id: str) -> None:
    path = repo / "tasks" / TASK / "task.yaml"
    meta = yaml.safe_load(path.read_text())
    meta["instance_id"] = instance_id
    path.write_text(yaml.safe_dump(meta, allow_unicode=True))


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def run_refused(tmp_path: Path, repo: Path, run_id: str, capsys: pytest.CaptureFixture[str]) -> str:
    """`swe-search run` on `repo`; assert it is refused in one line with exit 2 and return that line."""
    out = tmp_path / "box" / "out"
    code = main(["run", "--dataset", str(repo), "--model", "scripted:gold", "--out", str(out),
                 "--run-id", run_id, "--no-build", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert not labelled_containers(run_id)
    assert not (out / "trajectories").exists() and not (out / "instances").exists()
    return lines[0]


@pytest.mark.parametrize("kind", list(BAD_IDS))
def test_an_id_that_is_not_one_file_name_is_refused_and_nothing_lands_outside_out(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = task_repo(tmp_path)
    set_id(repo, BAD_IDS[kind])
    (tmp_path / "box").mkdir()
    before = files_under(tmp_path)
    line = run_refused(tmp_path, repo, f"hostile-id-{len(kind)}", capsys)
    assert "instance_id" in line and "one file name" in line
    written = files_under(tmp_path) - before
    out = tmp_path / "box" / "out"
    assert all(p == out or out in p.parents for p in written), written
    assert not (tmp_path / "escaped").exists()


def test_every_source_checks_ids_rows_task_repos_and_predictions(tmp_path: Path) -> None:
    row = {"problem_statement": "bug", "base_commit": "0" * 40}
    for bad in [*BAD_IDS.values(), "..", "a\x00b", "tab\there", "a\\b", 7, "\ud800"]:
        rows = tmp_path / "rows.json"
        rows.write_text(json.dumps([{**row, "instance_id": bad}]))
        with pytest.raises(TaskSourceError, match="instance_id"):
            load_tasks(rows)
        preds = tmp_path / "preds.jsonl"
        preds.write_text(json.dumps({"instance_id": bad, "model_patch": ""}) + "\n")
        with pytest.raises(RunnerError, match="instance_id"):
            read_preds(preds)
    # what a file name can hold is accepted, up to the limit
    for good in ["django__django-11099", "ünï cödé", "é" * (MAX_ID_BYTES // 2), ".hidden"]:
        assert check_instance_id(good) == good
    with pytest.raises(TaskSourceError, match=f"longer than {MAX_ID_BYTES} bytes"):
        check_instance_id("é" * (MAX_ID_BYTES // 2 + 1))


@pytest.mark.parametrize(
    "link",
    ["problem_statement.md", "eval.sh", "tests.json", "task.yaml", "gold.patch", "repo/secret.txt", "folder"],
)
def test_a_task_file_linking_outside_its_folder_is_refused_before_any_container(
    tmp_path: Path, link: str, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("root:HOST-SECRET-HASH:19000:0:99999:7:::\n")
    repo = task_repo(tmp_path)
    task_dir = repo / "tasks" / TASK
    if link == "folder":  # the task folder itself is a link to a folder elsewhere
        elsewhere = tmp_path / "elsewhere"
        shutil.move(task_dir, elsewhere)
        os.symlink(elsewhere, task_dir)
    else:
        target = task_dir / link
        if link.endswith((".json", ".yaml")):  # the link points at a readable file of the same kind
            secret.write_text(target.read_text())
        target.unlink(missing_ok=True)
        os.symlink(secret, target)
    line = run_refused(tmp_path, repo, f"hostile-link-{len(link)}", capsys)
    assert "links outside" in line
    assert main(["images", "build", str(repo)]) == EXIT_USAGE  # the folder is Docker's build context too
    assert "links outside" in capsys.readouterr().err
    with pytest.raises(TaskSourceError, match="links outside"):
        load_tasks(repo)
    out = tmp_path / "box" / "out"
    for path in out.rglob("*"):
        if path.is_file():
            assert "HOST-SECRET" not in path.read_text(errors="replace"), path
