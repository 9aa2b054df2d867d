"""Faults that are not the model's doing, signals, hung model calls, and runs that share a host.

Real containers, real CLI processes, a loopback OpenAI-protocol server (tests/helpers/openai_server.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import docker
import pytest
import yaml

from eval.cli import EXIT_INFRA, EXIT_INTERRUPTED, EXIT_USAGE, main
from tests.helpers.containers import labelled_containers
from tests.helpers.openai_server import Error, OpenAIServer, Reply

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tasks"
QUIET = ["--no-progress", "--step-limit", "3", "--grade-timeout", "300"]
SUBMIT = "Nothing to do.\n```bash\nsubmit\n```"


def done(out: Path, iid: str) -> dict:
    return json.loads((out / "instances" / iid / "done.json").read_text())


def ids(example_tasks, n: int) -> list[str]:
    return sorted(t.instance_id for t in example_tasks)[:n]


# ----------------------------------------------------------------------------- item 2: honest statuses


def test_a_dead_model_server_fails_every_instance_says_why_once_and_a_rerun_redoes_them(
    tmp_path, example_tasks, capsys
):
    two = ids(example_tasks, 2)
    out = tmp_path / "run"
    with OpenAIServer(default=Error(401, "invalid api key")) as server:
        args = ["run", "--dataset", str(EXAMPLES), "--out", str(out), *QUIET, "--model", "test-model"]
        args += ["--base-url", server.url, "--instances", ",".join(two), "--run-id", "rel-dead-model"]
        assert main(args) == EXIT_INFRA
        err = capsys.readouterr().err
        assert err.count("all 2 instance(s) failed: policy_error") == 1, err
        assert err.count("rejected the credentials") == 2, err  # first instance's line + the summary
        for iid in two:
            rec = done(out, iid)
            assert (rec["status"], rec["error_kind"]) == ("error", "policy_error")
            assert "rejected the credentials" in rec["error"]
        report = json.loads((out / "report.json").read_text())
        assert (report["totals"]["attempted"], report["totals"]["infra_errors"]) == (0, 2)
        assert "infra errors (not counted)" in (out / "report.md").read_text()
        server.default = SUBMIT  # the server is fixed: the same command redoes both
        assert main(args) == 0
    assert "2 that failed for infrastructure reasons redone" in capsys.readouterr().err
    for iid in two:
        assert (done(out, iid)["status"], done(out, iid)["grade_status"]) == ("ok", "empty_patch")
    assert not labelled_containers("rel-dead-model")


def test_a_missing_image_is_an_error_with_its_reason_on_the_console_and_in_done_json(
    tmp_path, task_repo_copy, example_tasks, capsys
):
    [iid] = ids(example_tasks, 1)
    task_yaml = task_repo_copy / "tasks" / iid / "task.yaml"
    meta = yaml.safe_load(task_yaml.read_text())
    meta["image"] = f"swe-search/task:missing-{os.getpid()}"
    task_yaml.write_text(yaml.safe_dump(meta))
    out = tmp_path / "run"
    args = ["run", "--dataset", str(task_repo_copy), "--out", str(out), *QUIET, "--model", "scripted:gold"]
    assert main([*args, "--instances", iid, "--no-build", "--run-id", "rel-no-image"]) == EXIT_INFRA
    err = capsys.readouterr().err
    rec = done(out, iid)
    assert (rec["status"], rec["error_kind"]) == ("error", "image_missing")
    assert "not present locally" in rec["error"] and "not present locally" in err
    assert not labelled_containers("rel-no-image")


def test_a_container_killed_under_the_agent_is_an_env_error_not_a_model_outcome(tmp_path, example_tasks):
    [iid] = ids(example_tasks, 1)
    out, run_id = tmp_path / "run", "rel-killed"
    args = ["run", "--dataset", str(EXAMPLES), "--out", str(out), *QUIET, "--model", "scripted:sleep"]
    args += ["--instances", iid, "--instance-timeout", "600", "--command-timeout", "600", "--run-id", run_id]
    codes: list[int] = []
    runner = threading.Thread(target=lambda: codes.append(main(args)))
    runner.start()
    _command_running(run_id)
    for c in labelled_containers(run_id):
        c.kill()
    runner.join(120)
    assert codes == [EXIT_INFRA]
    rec = done(out, iid)
    assert (rec["status"], rec["error_kind"], rec["exit_status"]) == ("error", "env_error", "env_error")
    assert rec["error"] and rec["grade_status"] == "not_graded"  # nothing of the model's to grade
    assert not labelled_containers(run_id)


def test_the_agent_stopping_at_the_instance_deadline_is_status_timeout(tmp_path, example_tasks):
    [iid] = ids(example_tasks, 1)
    out = tmp_path / "run"
    args = [
        "run",
        "--dataset",
        str(EXAMPLES),
        "--out",
        str(out),
        "--no-progress",
        "--model",
        "scripted:sleep",
    ]
    args += ["--instances", iid, "--instance-timeout", "8", "--command-timeout", "600", "--run-id", "rel-own"]
    t0 = time.monotonic()
    assert main(args) == 0
    assert time.monotonic() - t0 < 120
    rec = done(out, iid)
    # Either layer may stop it (the agent's own deadline or the runner's watchdog): the same status.
    assert (rec["status"], rec["exit_status"], rec["error_kind"]) == ("timeout", "timeout", "timeout")
    assert not rec["resolved"]
    assert not labelled_containers("rel-own")


# ----------------------------------------------------------------------------- item 4: hung model calls


def test_a_model_call_that_never_answers_is_recorded_at_the_instance_deadline(tmp_path, example_tasks):
    two = ids(example_tasks, 2)
    out = tmp_path / "run"
    with OpenAIServer(default=Reply("never", delay=3600)) as server:
        t0 = time.monotonic()
        code = main(
            ["run", "--dataset", str(EXAMPLES), "--out", str(out), *QUIET, "--model", "test-model"]
            + ["--base-url", server.url, "--instances", ",".join(two), "--instance-timeout", "10"]
            + ["--workers", "1", "--run-id", "rel-hung-model"]
        )
        elapsed = time.monotonic() - t0
    assert code == 0
    for iid in two:  # each recorded by its deadline; the worker went on to the next
        rec = done(out, iid)
        assert (rec["status"], rec["exit_status"]) == ("timeout", "timeout"), rec
        assert rec["duration"] < 10 + 4, rec["duration"]
    assert elapsed < 2 * (10 + 4) + 10
    assert not labelled_containers("rel-hung-model")


# ----------------------------------------------------------------------------- item 3: signals


def _command_running(run_id: str, timeout: float = 120) -> None:
    """Wait until a container of `run_id` runs the scripted policy's long `sleep`."""
    client = docker.from_env()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for c in labelled_containers(run_id):
            try:
                procs = client.api.top(c.id)["Processes"] or []
            except docker.errors.APIError:
                continue
            if any("sleep 100000" in " ".join(p) for p in procs):
                return
        time.sleep(0.2)
    raise AssertionError(f"no container of {run_id} started the long command")


def _sleeping_run(out: Path, run_id: str, instances: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "eval.cli", "run", "--dataset", str(EXAMPLES), "--out", str(out)]
    cmd += ["--no-progress", "--model", "scripted:sleep", "--instances", ",".join(instances)]
    cmd += ["--instance-timeout", "1000", "--command-timeout", "600", "--run-id", run_id]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_a_long_command_exits_within_5_s_keeping_finished_instances(
    tmp_path, example_tasks, sig
):
    first, second = ids(example_tasks, 2)
    out, run_id = tmp_path / "run", f"rel-signal-{sig.name.lower()}"
    # one instance finishes first (a timeout is a finished outcome), the next one hangs in `sleep`
    assert main(["run", "--dataset", str(EXAMPLES), "--out", str(out), "--no-progress"]
                + ["--model", "scripted:sleep", "--instances", first, "--instance-timeout", "6"]
                + ["--command-timeout", "600", "--run-id", run_id]) == 0  # fmt: skip
    kept = (out / "instances" / first / "done.json").read_text()
    proc = _sleeping_run(out, run_id, [first, second])
    try:
        _command_running(run_id)
        t0 = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=60)
        elapsed = time.monotonic() - t0
    finally:
        proc.kill()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert code == EXIT_INTERRUPTED, stderr
    assert elapsed < 5, f"took {elapsed:.1f} s to exit"
    assert (out / "instances" / first / "done.json").read_text() == kept
    assert not (out / "instances" / second / "done.json").exists()
    assert not labelled_containers(run_id)


def test_a_second_signal_exits_at_once_and_the_containers_still_go(tmp_path, example_tasks):
    out, run_id = tmp_path / "run", "rel-signal-twice"
    proc = _sleeping_run(out, run_id, ids(example_tasks, 1))
    try:
        _command_running(run_id)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.1)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        elapsed = time.monotonic() - t0
    finally:
        proc.kill()
    assert code == EXIT_INTERRUPTED
    assert elapsed < 1.0, f"took {elapsed:.1f} s after the second signal"
    end = time.monotonic() + 20  # a background process removes them
    while labelled_containers(run_id) and time.monotonic() < end:
        time.sleep(0.2)
    assert not labelled_containers(run_id)


# ----------------------------------------------------------------------------- item 6: shared hosts


def _hold_env(task, run_id: str) -> subprocess.Popen:
    """Another live process holding a container of `run_id`."""
    script = textwrap.dedent(
        f"""
        from envs.docker import DockerEnv
        from envs.types import Task
        env = DockerEnv(Task({task.instance_id!r}, "", {task.image!r}), run_id={run_id!r})
        print("ready", flush=True)
        env.execute("sleep 120")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_a_run_id_held_by_a_live_process_is_refused_and_its_container_kept(tmp_path, example_tasks, capsys):
    run_id = f"rel-live-{os.getpid()}"
    holder = _hold_env(example_tasks[0], run_id)
    try:
        args = ["run", "--dataset", str(EXAMPLES), "--out", str(tmp_path / "run"), "--no-progress"]
        assert main([*args, "--model", "scripted:empty", "--run-id", run_id]) == EXIT_USAGE
        err = capsys.readouterr().err
        assert f"is in use by process {holder.pid} (1 container(s))" in err and "Traceback" not in err
        assert len(labelled_containers(run_id)) == 1
        assert main(["envs", "cleanup", "--run-id", run_id]) == 0  # the default spares live owners
        assert "removed 0 containers; kept 1" in capsys.readouterr().out
        assert len(labelled_containers(run_id)) == 1
        assert main(["envs", "cleanup", "--run-id", run_id, "--all"]) == 0
        assert "removed 1 containers" in capsys.readouterr().out
        assert not labelled_containers(run_id)
    finally:
        holder.kill()
        holder.wait()


def test_a_resume_with_another_model_is_refused_and_force_moves_the_old_run_aside(
    tmp_path, example_tasks, capsys
):
    [iid] = ids(example_tasks, 1)
    out = tmp_path / "run"
    args = ["run", "--dataset", str(EXAMPLES), "--out", str(out), *QUIET, "--instances", iid]
    assert main([*args, "--model", "scripted:empty", "--run-id", "rel-resume"]) == 0
    config, report = (out / "config.yaml").read_text(), (out / "report.json").read_text()
    assert main([*args, "--model", "scripted:gold", "--run-id", "rel-resume"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "model 'scripted:empty' -> 'scripted:gold'" in err and "--force" in err
    assert (out / "config.yaml").read_text() == config and (out / "report.json").read_text() == report
    # what only changes how the run goes is allowed
    assert main([*args, "--model", "scripted:empty", "--run-id", "rel-resume", "--workers", "2"]) == 0
    # damaged files (#26.3): named once, counted unfinished by the report, redone by a resume
    record = out / "instances" / iid / "done.json"
    trajectory = out / done(out, iid)["runs"][0]["trajectory"]
    for path, damage in ((record, record.read_text()[:40]), (trajectory, "garbage\x00")):
        path.write_text(damage)
        capsys.readouterr()
        assert main(["report", str(out)]) == 0
        err = capsys.readouterr().err
        assert err.count(f"damaged: {path}") == 1 and "Traceback" not in err, err
        totals = json.loads((out / "report.json").read_text())["totals"]
        assert totals["unfinished"] == (1 if path == record else 0)
        assert main([*args, "--model", "scripted:empty", "--run-id", "rel-resume"]) == 0
        err = capsys.readouterr().err
        assert f"damaged: {path}" in err and f"{iid} is redone" in err, err
        assert done(out, iid)["grade_status"] == "empty_patch" and json.loads(trajectory.read_text())["steps"]
    # no saved config beside finished instances: refused like a changed config
    (out / "config.yaml").unlink()
    assert main([*args, "--model", "scripted:gold", "--run-id", "rel-resume"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "config.yaml is missing" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert not (out / "config.yaml").exists() and done(out, iid)["grade_status"] == "empty_patch"
    assert main([*args, "--model", "scripted:gold", "--run-id", "rel-resume", "--force"]) == 0
    [old] = [p for p in tmp_path.iterdir() if p.name.startswith("run.")]
    assert f"moved to {old}" in capsys.readouterr().err
    assert done(old, iid)["grade_status"] == "empty_patch"  # nothing deleted
    assert done(out, iid)["resolved"]
    assert not labelled_containers("rel-resume")
