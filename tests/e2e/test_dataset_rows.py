"""Rows from the datasets users have, graded for real: a SWE-rebench row, and a classic row joined with
`--fields-from`, on an image whose environment is activated the way SWE-rebench (and SWE-bench) images
activate theirs: the eval script sources /opt/miniconda3/bin/activate and runs `conda activate testbed`.

No conda can be downloaded here, so the image stands in for it at the same paths: `activate` defines a
`conda` shell function whose `activate NAME` puts /opt/miniconda3/envs/NAME/bin on PATH, and `pytest`
exists only there (with /testbed importable, as an editable install makes it). An eval script that skipped the activation would find no `pytest` and fail every test.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import docker
import pytest

from envs.tasks import load_tasks
from eval.grading import GradeStatus, grade
from tests.helpers.commands import swe_search

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tasks"
SOURCE = "swe-search__confkit-1"
IMAGE = "swe-search/task:conda-like-confkit-1"
REBENCH_ID = "rebench__confkit-1"
CLASSIC_ID = "classic__confkit-1"
CLASSIC_FIELDS = (
    "repo", "instance_id", "base_commit", "patch", "test_patch", "problem_statement", "hints_text",
    "created_at", "version", "FAIL_TO_PASS", "PASS_TO_PASS", "environment_setup_commit",
)  # fmt: skip
ACTIVATE = """\
# stands in for conda's activate: sourced, it defines `conda activate NAME`
conda() {
  if [ "${1:-}" = activate ] && [ -d "/opt/miniconda3/envs/${2:-}" ]; then
    export CONDA_DEFAULT_ENV="$2" CONDA_PREFIX="/opt/miniconda3/envs/$2"
    export PATH="/opt/miniconda3/envs/$2/bin:$PATH"
  else
    echo "conda: cannot $*" >&2; return 1
  fi
}
"""
PYTEST = "#!/opt/miniconda3/envs/testbed/bin/python\nimport sys\n\nimport pytest\n\nsys.exit(pytest.console_main())\n"
DOCKERFILE = f"""\
FROM swe-search/task:{SOURCE}
COPY activate /opt/miniconda3/bin/activate
COPY pytest /opt/miniconda3/envs/testbed/bin/pytest
RUN python3 -m venv --without-pip --system-site-packages /opt/miniconda3/envs/testbed \\
 && chmod +x /opt/miniconda3/envs/testbed/bin/pytest \\
 && echo /testbed > "$(echo /opt/miniconda3/envs/testbed/lib/python3*/site-packages)/testbed.pth" \\
 && rm -f /usr/bin/pytest /usr/bin/pytest-3
"""
# what a swebench 5 dataset (SWE-bench/SWE-bench_Verified) carries for a row: the same script shape
VERIFIED_EVAL = """\
#!/bin/bash
set -uxo pipefail
source /opt/miniconda3/bin/activate
conda activate testbed
cd /testbed
git config --global --add safe.directory /testbed
git status
git -c core.fileMode=false diff {base}
git checkout {base} tests/test_config.py
git apply -v - <<'EOF_114329324912'
{test_patch}
EOF_114329324912
: '>>>>> Start Test Output'
pytest -rA tests/test_config.py
: '>>>>> End Test Output'
git checkout {base} tests/test_config.py
"""


@pytest.fixture(scope="module")
def conda_like_image(example_task_images) -> str:
    """The example task's image with a conda-like env `testbed` (built once; docker caches it)."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text, mode in (
            ("Dockerfile", DOCKERFILE, 0o644),
            ("activate", ACTIVATE, 0o644),
            ("pytest", PYTEST, 0o755),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    docker.from_env().images.build(fileobj=context, custom_context=True, tag=IMAGE, rm=True)
    return IMAGE


@pytest.fixture(scope="module")
def datasets(tmp_path_factory, conda_like_image) -> tuple[Path, Path]:
    """rows.jsonl (a SWE-rebench row and a classic row) and verified5.jsonl (the classic row's v5 fields)."""
    base = load_tasks(EXAMPLES, instances=[SOURCE])[0].instance
    classic = {k: base[k] for k in CLASSIC_FIELDS if k in base} | {"instance_id": CLASSIC_ID}
    # as in SWE-bench, PASS_TO_PASS holds only tests of the files the test patch touches (those that run)
    classic["PASS_TO_PASS"] = [t for t in base["PASS_TO_PASS"] if t.startswith("tests/test_config.py::")]
    rebench = classic | {
        "instance_id": REBENCH_ID,
        "docker_image": conda_like_image,
        "install_config": {
            "python": "3.11",
            "install": "python -c 'import sys; print(sys.prefix)'",
            "test_cmd": "pytest --no-header -rA --tb=no -p no:cacheprovider",
            "log_parser": "parse_log_pytest_options",
            "pip_packages": None,
        },
    }
    v5 = classic | {
        "image": conda_like_image,
        "eval_script": VERIFIED_EVAL.format(
            base=base["base_commit"], test_patch=base["test_patch"].rstrip("\n")
        ),
        "log_parser": "parse_log_pytest",
        "eval_type": "pass_and_fail",
    }
    folder = tmp_path_factory.mktemp("rows")
    (folder / "rows.jsonl").write_text(json.dumps(rebench) + "\n" + json.dumps(classic) + "\n")
    (folder / "verified5.jsonl").write_text(json.dumps(v5) + "\n")
    return folder / "rows.jsonl", folder / "verified5.jsonl"


@pytest.mark.slow
def test_rebench_and_joined_classic_rows_grade_gold_resolved_and_empty_unresolved(tmp_path, datasets):
    rows, verified = datasets
    without = swe_search("eval", "--predictions", str(rows), "--dataset", str(rows), "--no-progress")
    assert without.returncode == 2 and "--fields-from" in without.stderr, without.stderr

    gold = tmp_path / "gold.jsonl"
    tasks = load_tasks(rows, fields_from=str(verified))
    gold.write_text(
        "".join(
            json.dumps(
                {
                    "instance_id": t.instance_id,
                    "model_name_or_path": "gold",
                    "model_patch": t.instance["patch"],
                }
            )
            + "\n"
            for t in tasks
        )
    )
    p = swe_search(
        "eval", "--predictions", str(gold), "--dataset", str(rows), "--fields-from", str(verified),
        "--out", str(tmp_path / "gold"), "--run-id", "rows-gold", "--no-build", "--no-progress",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    for instance_id in (REBENCH_ID, CLASSIC_ID):
        graded = json.loads((tmp_path / "gold" / "grades" / f"{instance_id}.json").read_text())
        assert graded["status"] == "resolved", graded

    for task in tasks:  # the base commit: the eval script runs, FAIL_TO_PASS fail
        result = grade(task, "", run_id="rows-empty", timeout=120, run_if_empty=True)
        assert result.status is GradeStatus.UNRESOLVED, f"{result.message}\n{result.log[-2000:]}"
        tests = result.report["tests_status"]
        assert sorted(tests["FAIL_TO_PASS"]["failure"]) == sorted(task.fail_to_pass)
        assert sorted(tests["PASS_TO_PASS"]["success"]) == sorted(task.pass_to_pass)
