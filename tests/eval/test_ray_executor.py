"""`swe-search run --executor ray` on a real Ray cluster of two nodes on this machine, real containers.

The driver is a real CLI process that joins the cluster by address; one test kills a worker node
mid-run, the other kills the driver with SIGKILL and runs the same command again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from ray.cluster_utils import Cluster  # the `ray` extra, which the test command installs

from envs.container import live_owners
from envs.images import HASH_LABEL, build_base, context_hash, image_exists
from eval.batch.prepare import config_changes
from eval.batch.ray_pool import (
    RESOURCE,
    SCRATCH,
    Mirror,
    ensure_image,
    instance_files,
    pack_context,
    scratch_folder,
    write_files,
)
from eval.cli import EXIT_USAGE, build_parser, main
from eval.commands import config_from_args
from tests.helpers.containers import labelled_containers

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tasks"


def test_a_node_builds_a_missing_task_image_from_the_context_that_travels_with_the_task(
    docker_client, example_task_images
):
    task = replace(example_task_images[0], image=f"swe-search-test/ray-context:{uuid.uuid4().hex[:8]}")
    context = pack_context(Path(task.build_context))
    shipped = replace(task, build_context=None)  # the node has no copy of the task repo
    assert not image_exists(docker_client, task.image)
    try:
        ensure_image(shipped, context)
        image = docker_client.images.get(task.image)
        base = docker_client.images.get(build_base(client=docker_client)).id
        assert image.labels[HASH_LABEL] == context_hash(
            Path(example_task_images[0].build_context), extra=base
        )
        ensure_image(shipped, context)  # up to date: not built again
        assert docker_client.images.get(task.image).id == image.id
    finally:
        docker_client.images.remove(task.image, force=True)


def test_streamed_files_are_an_instances_own_and_change_only_when_they_change(tmp_path):
    node, driver = tmp_path / "node", tmp_path / "driver"
    (node / "trajectories" / "t1").mkdir(parents=True)
    (node / "trajectories" / "t1" / "trajectory.json").write_text('{"steps": []}')
    (node / "trajectories" / "t10" / "x").mkdir(parents=True)  # another instance's, with a similar id
    (node / "grades").mkdir()
    (node / "grades" / "t1.run-0.json").write_text("{}")
    (node / "grades" / ".t1.json.abc.tmp").write_text("half")  # a write in progress
    sent: list[dict[str, bytes]] = []
    mirror = Mirror(node, "t1", sent.append, interval=3600)
    mirror.push()
    mirror.push()
    mirror.stop()
    assert sent == [instance_files(node, "t1")]
    assert set(sent[0]) == {"trajectories/t1/trajectory.json", "grades/t1.run-0.json"}
    write_files(driver, "t1", sent[0])
    assert (driver / "trajectories" / "t1" / "trajectory.json").read_text() == '{"steps": []}'
    with pytest.raises(ValueError):
        write_files(driver, "t1", {"trajectories/t1/../../../x": b""})


def test_a_node_local_run_folder_left_by_a_dead_worker_goes_when_the_next_instance_starts_there():
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = SCRATCH / f"{dead.pid}-{uuid.uuid4().hex[:8]}"  # what a worker killed with kill -9 leaves
    live = SCRATCH / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # a running instance's
    for folder in (left, live):
        (folder / "trajectories").mkdir(parents=True)
    fresh = scratch_folder()
    try:
        assert not left.exists() and live.exists()
        assert (
            fresh.parent == SCRATCH and fresh.name.startswith(f"{os.getpid()}-") and not any(fresh.iterdir())
        )
    finally:
        shutil.rmtree(live)
        shutil.rmtree(fresh)


def test_the_executor_flags_reach_the_config_and_a_resume_may_switch_executor():
    args = build_parser().parse_args(
        ["run", "--executor", "ray", "--ray-address", "10.0.0.1:6379", "-w", "8"]
    )
    cfg = config_from_args(args)
    assert (cfg.executor, cfg.ray.address, cfg.workers) == ("ray", "10.0.0.1:6379", 8)
    default = config_from_args(build_parser().parse_args(["run"]))
    assert (default.executor, default.ray.address) == ("thread", "auto")
    assert config_changes(default.public_dict(), cfg.public_dict()) == []  # how it runs, not what


# ----------------------------------------------------------------------------- a real cluster


@pytest.fixture(scope="module")
def cluster():
    """A Ray head on this machine that holds one instance's container at a time."""
    c = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "resources": {RESOURCE: 1}, "include_dashboard": False},
    )
    yield c
    c.shutdown()


def _run(out: Path, address: str, run_id: str, *extra: str, model: str = "scripted:gold") -> subprocess.Popen:
    cmd = [sys.executable, "-m", "eval.cli", "run", "--executor", "ray", "--ray-address", address]
    cmd += ["--dataset", str(EXAMPLES), "--model", model, "--out", str(out), "--run-id", run_id]
    cmd += ["--no-progress", "--step-limit", "5", "ray.stream_interval=0.3", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _events(out: Path) -> list[dict]:
    path = out / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _wait(what, seconds: float, proc: subprocess.Popen | None = None):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = what()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the driver exited ({proc.returncode}):\n{proc.stdout.read()}")
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


@pytest.mark.slow
def test_a_cluster_whose_nodes_cannot_hold_an_instance_is_refused_before_any_container(
    tmp_path, cluster, example_task_images, capsys
):
    import ray

    run = ["run", "--executor", "ray", "--ray-address", cluster.address, "--dataset", str(EXAMPLES)]
    run += ["--model", "scripted:gold", "--out", str(tmp_path / "run"), "--strategy", "select", "-N", "2"]
    try:  # two runs at once need two containers; the head offers one
        assert main([*run, "--concurrency", "2", "--rule", "random"]) == EXIT_USAGE
    finally:
        ray.shutdown()
    err = capsys.readouterr().err
    assert f"offers 2 `{RESOURCE}` (the most is 1)" in err and "ray start" in err
    assert not (tmp_path / "run" / "instances").exists()


@pytest.mark.slow
def test_instances_spread_over_two_nodes_and_a_killed_nodes_instance_is_redone_and_graded_once(
    tmp_path, cluster, example_task_images
):
    out, run_id = tmp_path / "run", "ray-nodes"
    ids = sorted(t.instance_id for t in example_task_images)[:4]
    worker = cluster.add_node(num_cpus=1, resources={RESOURCE: 1})
    cluster.wait_for_nodes()
    head_id, worker_id = cluster.head_node.node_id, worker.node_id
    # two at a time, one container per node: every node holds one instance, the worker gets two
    proc = _run(out, cluster.address, run_id, "-w", "2", "--instances", ",".join(ids))
    try:

        def second_on_worker() -> str | None:
            events = _events(out)
            finished = {e["instance_id"] for e in events if e["event"] == "done"}
            on_worker = [e["instance_id"] for e in events if e["event"] == "start" and e["node"] == worker_id]
            return on_worker[1] if len(on_worker) > 1 and on_worker[0] in finished else None

        victim = _wait(second_on_worker, 240, proc)
        assert not (out / "instances" / victim / "done.json").exists()
        cluster.remove_node(worker)  # its raylet and workers go; Ray runs the instance again on the head
        code = proc.wait(timeout=240)
    finally:
        proc.kill()
    log = proc.stdout.read()
    assert code == 0, log
    records = {i: json.loads((out / "instances" / i / "done.json").read_text()) for i in ids}
    assert all(r["resolved"] for r in records.values()), log
    assert {r["node"] for r in records.values()} == {head_id, worker_id}
    assert records[victim]["node"] == head_id
    events = _events(out)
    starts = [e["instance_id"] for e in events if e["event"] == "start"]
    assert starts.count(victim) == 2
    assert sorted(e["instance_id"] for e in events if e["event"] == "done") == ids  # graded once each
    preds = [json.loads(line)["instance_id"] for line in (out / "preds.jsonl").read_text().splitlines()]
    assert preds == ids
    report = json.loads((out / "report.json").read_text())
    assert report["totals"]["finished"] == 4 and [r["instance_id"] for r in report["instances"]] == ids
    trajectory = json.loads((out / "trajectories" / victim / "trajectory.json").read_text())
    assert trajectory["exit_status"] == "submitted"
    assert not labelled_containers(run_id)


@pytest.mark.slow
def test_a_driver_killed_with_sigkill_resumes_keeping_finished_instances_and_redoing_the_in_flight_one(
    tmp_path, cluster, example_task_images
):
    out, run_id = tmp_path / "run", "ray-driver-kill"
    first, second = sorted(t.instance_id for t in example_task_images)[:2]
    args = ("-w", "1", "--instances", f"{first},{second}")
    # slowgold waits 5 s before the gold fix: the second instance is surely in flight when polled
    proc = _run(out, cluster.address, run_id, *args, model="scripted:slowgold")
    try:
        streamed = out / "trajectories" / second / "trajectory.json"
        # the second instance runs, its trajectory already streamed to the driver, not finished yet
        _wait(lambda: streamed.exists() and (out / "instances" / first / "done.json").exists(), 240, proc)
        assert not (out / "instances" / second / "done.json").exists()
        assert json.loads(streamed.read_text())["instance_id"] == second
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    kept = (out / "instances" / first / "done.json").read_text()
    # Ray ends the dead driver's workers; their containers are then ownerless, removed by the rerun
    _wait(lambda: not live_owners(run_id), 60)
    again = _run(out, cluster.address, run_id, *args, model="scripted:slowgold")
    try:
        code = again.wait(timeout=240)
    finally:
        again.kill()
    log = again.stdout.read()
    assert code == 0, log
    assert "1 finished instance(s) skipped" in log
    assert (out / "instances" / first / "done.json").read_text() == kept
    assert json.loads((out / "instances" / second / "done.json").read_text())["resolved"]
    starts = [e["instance_id"] for e in _events(out) if e["event"] == "start"]
    assert starts == [first, second, second]
    assert not labelled_containers(run_id)
