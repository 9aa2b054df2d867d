"""Rows without swebench 5's fields get them once, as docs/tasks.md says (envs.rows); grading them for
real is tests/e2e/test_dataset_rows.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from swebench.harness.constants import END_TEST_OUTPUT, START_TEST_OUTPUT
from swebench.harness.log_parsers import PARSER_REGISTRY
from swebench.harness.utils import make_test_spec

from envs import rows
from envs.tasks import load_tasks
from envs.types import TaskSourceError

BASE = "a" * 40
TEST_PATCH = """\
diff --git a/tests/test_a.py b/tests/test_a.py
index 1111111..2222222 100644
--- a/tests/test_a.py
+++ b/tests/test_a.py
@@ -1,3 +1,2 @@
 import x
---- not a header: a removed line that starts with three dashes
+++++ nor this one
-def test_old(): pass
diff --git a/tests/test new.py b/tests/test new.py
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/tests/test new.py
@@ -0,0 +1 @@
+def test_new(): pass
diff --git a/tests/data.json b/tests/data.json
new file mode 100644
--- /dev/null
+++ b/tests/data.json
@@ -0,0 +1 @@
+{}
diff --git a/tests/test_gone.py b/tests/test_gone.py
deleted file mode 100644
--- a/tests/test_gone.py
+++ /dev/null
@@ -1 +0,0 @@
-def test_gone(): pass
"""


def rebench_row(**extra) -> dict:
    row = {
        "instance_id": "owner__proj-7",
        "repo": "owner/proj",
        "version": "1.0",
        "base_commit": BASE,
        "problem_statement": "it breaks",
        "patch": "",
        "test_patch": TEST_PATCH,
        "FAIL_TO_PASS": '["tests/test_a.py::test_x"]',
        "PASS_TO_PASS": "[]",
        "docker_image": "swerebench/sweb.eval.x86_64.owner_1776_proj-7",
        "install_config": {
            "python": "3.10",
            "install": "pip install -e .",
            "test_cmd": "pytest --no-header -rA --tb=no -p no:cacheprovider",
            "log_parser": "parse_log_pytest_v2",
            "pip_packages": None,
        },
    }
    return row | extra


def test_patch_files_counts_hunks_so_dashed_lines_are_no_headers():
    assert rows.patch_files(TEST_PATCH) == [
        ("tests/test_a.py", "tests/test_a.py"),
        (None, "tests/test new.py"),
        (None, "tests/data.json"),
        ("tests/test_gone.py", None),
    ]


def test_rebench_row_gets_an_eval_script_that_swebench_5_accepts():
    [row] = rows.derive_rows([rebench_row()])
    assert row["image"] == "swerebench/sweb.eval.x86_64.owner_1776_proj-7"
    assert (row["log_parser"], row["eval_type"]) == ("parse_log_pytest_v2", "pass_and_fail")
    lines = row["eval_script"].splitlines()
    assert lines[:4] == ["#!/bin/bash", "set -uxo pipefail", *rows.CONDA_ACTIVATION]
    start, end = lines.index(f": '{START_TEST_OUTPUT}'"), lines.index(f": '{END_TEST_OUTPUT}'")
    # one test command between the markers (swebench records its exit code): test files, not data or deleted ones
    assert end == start + 2
    assert lines[start + 1] == (
        "LANG=C.UTF-8 LC_ALL=C.UTF-8 pytest --no-header -rA --tb=no -p no:cacheprovider "
        "tests/test_a.py 'tests/test new.py'"
    )
    reset = f"git checkout {BASE} -- tests/test_a.py tests/test_gone.py"  # files the base has
    assert (
        lines[end + 1] == reset
        and lines.index(reset) < lines.index("LANG=C.UTF-8 LC_ALL=C.UTF-8 pip install -e .") + 2
    )
    assert "LANG=C.UTF-8 LC_ALL=C.UTF-8 pip install -e ." in lines
    assert TEST_PATCH.rstrip("\n") in row["eval_script"]
    spec = make_test_spec(row)
    assert spec.log_parser in PARSER_REGISTRY and spec.FAIL_TO_PASS == ["tests/test_a.py::test_x"]


@pytest.mark.parametrize("parser", ["parse_log_pytest", "parse_log_pytest_options", "parse_log_pytest_v2"])
def test_swe_rebench_log_parsers_are_swebench_5_parsers(parser):
    assert parser in PARSER_REGISTRY


def test_rebench_image_from_image_name_and_install_config_as_json_text():
    row = rebench_row(docker_image=None, image_name="img:1")
    row["install_config"] = json.dumps(row["install_config"])
    [filled] = rows.derive_rows([row])
    assert filled["image"] == "img:1" and "eval_script" in filled


def test_rebench_row_without_an_image_is_refused():
    with pytest.raises(
        TaskSourceError, match="owner__proj-7: a SWE-rebench row with no docker_image or image_name"
    ):
        rows.derive_rows([rebench_row(docker_image=None)])


def classic(instance_id: str, repo: str = "owner/proj", version: str = "1.0") -> dict:
    keep = ("repo", "version", "base_commit", "problem_statement", "patch", "test_patch", "FAIL_TO_PASS")
    return {k: v for k, v in rebench_row().items() if k in keep} | {
        "instance_id": instance_id,
        "repo": repo,
        "version": version,
    }


def write_jsonl(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return path


def test_fields_from_joins_by_id_and_refuses_the_unmatched_in_one_line(tmp_path):
    v5 = classic("owner__proj-1") | {
        "image": "img:v5",
        "eval_script": "#!/bin/bash\n: '>>>>> Start Test Output'\npytest\n: '>>>>> End Test Output'\n",
        "log_parser": "parse_log_pytest",
        "eval_type": "pass_and_fail",
    }
    fields = write_jsonl(tmp_path / "v5.jsonl", [v5])
    data = write_jsonl(tmp_path / "classic.jsonl", [classic(f"owner__proj-{i}") for i in range(1, 9)])

    [task] = load_tasks(data, instances=["owner__proj-1"], fields_from=str(fields))
    assert task.image == "img:v5" and task.instance["eval_script"] == v5["eval_script"]
    assert (
        task.instance["log_parser"] == "parse_log_pytest"
        and task.instance["problem_statement"] == "it breaks"
    )

    with pytest.raises(TaskSourceError) as refused:
        load_tasks(data, fields_from=str(fields))
    message = str(refused.value)
    assert "\n" not in message and "7 selected row(s)" in message and f"--fields-from {fields}" in message
    assert "owner__proj-2, owner__proj-3, owner__proj-4, owner__proj-5, owner__proj-6 and 2 more" in message


def test_spec_file_fills_rows_without_an_install_spec_and_says_what_is_missing(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "owner/proj:\n"
        "  '1.0': {test_cmd: pytest -rA, log_parser: parse_log_pytest, image: 'gym/sweb.eval.x86_64.{docker_id}'}\n"
        "other/lib:\n"
        "  '*': {test_cmd: [make fixtures, python -m pytest -rA], log_parser: parse_log_pytest_options}\n"
    )
    items = [classic("Owner__proj-1"), classic("other__lib-2", repo="other/lib", version="3.2")]
    data = write_jsonl(tmp_path / "gym.jsonl", [*items, classic("owner__proj-3", version="2.0")])

    one, two = load_tasks(data, instances=["Owner__proj-1", "other__lib-2"], spec=spec)
    assert (
        one.image == "gym/sweb.eval.x86_64.owner_1776_proj-1"
        and one.instance["log_parser"] == "parse_log_pytest"
    )
    script = two.instance["eval_script"].splitlines()
    start = script.index(f": '{START_TEST_OUTPUT}'")
    assert script[start - 1] == "LANG=C.UTF-8 LC_ALL=C.UTF-8 make fixtures"
    assert script[start + 1].startswith("LANG=C.UTF-8 LC_ALL=C.UTF-8 python -m pytest -rA tests/test_a.py")

    with pytest.raises(
        TaskSourceError, match=r"1 selected row\(s\) .* --spec .* has nothing for them: owner__proj-3$"
    ):
        load_tasks(data, spec=spec)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("- not a mapping\n", "expected {repo: {version:"),
        ("owner/proj:\n  '1.0': {test_cmd: pytest}\n", "owner/proj 1.0: log_parser: Field required"),
        ("owner/proj:\n  '1.0': {test_cmd: '', log_parser: parse_log_pytest}\n", "test_cmd is empty"),
    ],
)
def test_bad_spec_file_is_one_line(tmp_path, text, words):
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    with pytest.raises(TaskSourceError) as refused:
        rows.SpecFile.load(spec)
    assert words in str(refused.value) and "\n" not in str(refused.value)
