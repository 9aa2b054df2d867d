"""Task sources: SWE-bench rows from json/jsonl/parquet, task repos, filters, image names, bad inputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from envs.tasks import load_tasks, parse_slice, row_to_task, swebench_image
from envs.types import TaskSourceError

ROWS = [
    {
        "instance_id": f"owner__repo-{i}",
        "problem_statement": f"bug {i}",
        "repo": "owner/repo",
        "base_commit": f"{i:040d}",
        "FAIL_TO_PASS": json.dumps([f"t::fail{i}"]),
        "PASS_TO_PASS": "[]",
    }
    for i in range(10)
]


@pytest.fixture(params=["json", "jsonl", "parquet"])
def rows_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / f"rows.{request.param}"
    if request.param == "json":
        path.write_text(json.dumps(ROWS))
    elif request.param == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    else:
        pq.write_table(pa.Table.from_pylist(ROWS), path)
    return path


def test_rows_load_from_json_jsonl_and_parquet(rows_file: Path) -> None:
    tasks = load_tasks(rows_file)
    assert [t.instance_id for t in tasks] == [r["instance_id"] for r in ROWS]
    task = tasks[3]
    assert task.problem_statement == "bug 3" and task.repo == "owner/repo"
    assert task.base_commit == f"{3:040d}" and task.workdir == "/testbed"
    assert task.fail_to_pass == ["t::fail3"] and task.pass_to_pass == []
    assert task.image == "swebench/sweb.eval.x86_64.owner_1776_repo-3:latest"
    assert task.instance["image"] == task.image


def test_filters_ids_regex_slice_and_seeded_shuffle(rows_file: Path) -> None:
    def ids(**kw: object) -> list[str]:
        return [t.instance_id for t in load_tasks(rows_file, **kw)]

    assert ids(slice="0:3") == ["owner__repo-0", "owner__repo-1", "owner__repo-2"]
    assert ids(slice="8:") == ["owner__repo-8", "owner__repo-9"]
    assert ids(filter=r"-[13]$") == ["owner__repo-1", "owner__repo-3"]
    assert ids(instances=["owner__repo-7", "owner__repo-2"]) == ["owner__repo-7", "owner__repo-2"]
    shuffled = ids(shuffle_seed=1)
    assert sorted(shuffled) == ids() and shuffled != ids()
    assert ids(shuffle_seed=1, slice="0:4") == shuffled[:4] == ids(shuffle_seed=1)[:4]


def test_image_name_derivation() -> None:
    assert (
        swebench_image("django__django-11099") == "swebench/sweb.eval.x86_64.django_1776_django-11099:latest"
    )
    assert swebench_image("Foo__Bar-1") == "swebench/sweb.eval.x86_64.foo_1776_bar-1:latest"
    row = {"instance_id": "a__b-1", "problem_statement": "p"}
    assert row_to_task({**row, "image_name": "my/img:1"}).image == "my/img:1"
    assert row_to_task({**row, "docker_image": "other/img"}).image == "other/img"
    assert row_to_task({**row, "image": "first", "docker_image": "second"}).image == "first"


def test_task_repo_loads_with_swebench_format(tiny_repo: Path) -> None:
    [task] = load_tasks(tiny_repo)
    assert task.instance_id == "envs-test__tiny-1"
    assert task.image == "swe-search/task:envs-test__tiny-1"
    assert task.problem_statement == "Say hello in French.\n"
    assert task.base_commit is None  # empty in task.yaml: DockerEnv reads HEAD instead
    assert task.build_context is not None and Path(task.build_context, "Dockerfile").is_file()
    assert task.instance["eval_script"].startswith("#!/bin/bash")
    assert task.fail_to_pass == ["t::a"]
    assert "_task_dir" not in task.instance


def test_example_tasks_load(example_tasks: list) -> None:
    assert len(example_tasks) >= 1
    assert all(t.build_context and t.instance.get("eval_script") for t in example_tasks)


def test_nonexistent_dataset_path_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TaskSourceError, match="does not exist"):
        load_tasks(tmp_path / "missing.jsonl")
    with pytest.raises(TaskSourceError, match="neither a task repo"):
        load_tasks(tmp_path)
    with pytest.raises(TaskSourceError, match="unknown dataset"):
        load_tasks("not a dataset")


def test_malformed_row_names_the_missing_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"instance_id": "x__y-1"}) + "\n")
    with pytest.raises(TaskSourceError, match="x__y-1.*'problem_statement'"):
        load_tasks(path)
    path.write_text(json.dumps({"problem_statement": "p"}) + "\n")
    with pytest.raises(TaskSourceError, match="line 1.*'instance_id'"):
        load_tasks(path)
    path.write_text("{not json\n")
    with pytest.raises(TaskSourceError, match="could not read"):
        load_tasks(path)


def test_unknown_instance_id_and_bad_slice_raise(rows_file: Path) -> None:
    with pytest.raises(TaskSourceError, match="owner__repo-99"):
        load_tasks(rows_file, instances=["owner__repo-99"])
    with pytest.raises(TaskSourceError, match="bad slice"):
        parse_slice("a:b")


def test_task_repo_with_a_broken_task_raises(tmp_path: Path, make_task_repo: Callable[..., Path]) -> None:
    root = make_task_repo(tmp_path)
    (root / "tasks" / "envs-test__tiny-1" / "tests.json").unlink()
    with pytest.raises(TaskSourceError, match="envs-test__tiny-1.*malformed"):
        load_tasks(root)


def test_malformed_jsonl_names_the_line_of_the_file(tmp_path: Path) -> None:
    good = json.dumps({"instance_id": "a__b-1", "problem_statement": "p \u2028 q"}, ensure_ascii=False)
    path = tmp_path / "bad.jsonl"
    path.write_text(f"{good}\n\n{good}\n{{not json\n{good}\n")
    with pytest.raises(TaskSourceError, match=r"bad\.jsonl: line 4: not valid JSON"):
        load_tasks(path)
    path.write_text(f"{good}\n\n{json.dumps({'problem_statement': 'p'})}\n")
    with pytest.raises(TaskSourceError, match=r"bad\.jsonl line 3: .*'instance_id'"):
        load_tasks(path)
