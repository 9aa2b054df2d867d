"""The runner's bookkeeping without containers: boundaries, done markers, resume, deadlines."""

from __future__ import annotations

import json
import threading
import time

import pytest
from rich.console import Console

from envs.types import Task
from eval.batch.executor import Context
from eval.batch.prepare import config_changes
from eval.batch.records import (
    InstanceRecord,
    RunnerError,
    RunRecord,
    failure_summary,
    instance_outcome,
    load_records,
    stable_run_id,
)
from eval.batch.runner import Runner
from eval.batch.watchdog import InstanceTimeout, Watchdog, call_with_deadline


def tasks(n: int) -> list[Task]:
    return [Task(instance_id=f"t{i}", problem_statement="", image="") for i in range(n)]


def ok(task: Task, ctx: Context) -> InstanceRecord:
    resolved = task.instance_id != "t1"
    return InstanceRecord(
        instance_id=task.instance_id, status="ok", resolved=resolved, model_patch=f"p-{task.instance_id}"
    )


def make_runner(tmp_path, **kw) -> Runner:
    return Runner(tmp_path, "r", console=Console(quiet=True), progress=False, **kw)


def test_an_exception_becomes_an_error_record_and_the_batch_goes_on(tmp_path):
    def work(task: Task, ctx: Context) -> InstanceRecord:
        if task.instance_id == "t0":
            raise RuntimeError("boom")
        return ok(task, ctx)

    assert make_runner(tmp_path, workers=2).run(tasks(3), work)
    recs = load_records(tmp_path)
    assert recs["t0"].status == "error" and "boom" in recs["t0"].error
    assert "RuntimeError" in (tmp_path / "instances" / "t0" / "error.txt").read_text()
    assert recs["t2"].resolved
    preds = [json.loads(line) for line in (tmp_path / "preds.jsonl").read_text().splitlines()]
    assert [p["instance_id"] for p in preds] == ["t0", "t1", "t2"]
    assert preds[2] == {"instance_id": "t2", "model_name_or_path": "swe-search", "model_patch": "p-t2"}


def test_resume_redoes_only_unfinished_instances(tmp_path):
    make_runner(tmp_path).run(tasks(2), ok)
    (tmp_path / "trajectories" / "t2").mkdir(parents=True)  # debris of a killed attempt, no done.json
    (tmp_path / "trajectories" / "t2" / "partial.json").write_text("{")
    seen = []

    def work(task: Task, ctx: Context) -> InstanceRecord:
        seen.append(task.instance_id)
        assert not (tmp_path / "trajectories" / task.instance_id).exists()
        return ok(task, ctx)

    make_runner(tmp_path).run(tasks(3), work)
    assert seen == ["t2"]


def test_resume_redoes_infra_errors_keeps_model_outcomes_and_retry_errors_redoes_timeouts(tmp_path):
    statuses = {"t0": "ok", "t1": "error", "t2": "timeout"}

    def first(task: Task, ctx: Context) -> InstanceRecord:
        status = statuses[task.instance_id]
        return InstanceRecord(instance_id=task.instance_id, status=status, error_kind=None)

    make_runner(tmp_path).run(tasks(3), first)
    seen: list[str] = []
    make_runner(tmp_path).run(tasks(3), lambda t, r: seen.append(t.instance_id) or ok(t, r))
    assert seen == ["t1"]  # the infra error is redone by a plain rerun; ok and timeout are kept
    assert load_records(tmp_path)["t2"].status == "timeout"
    make_runner(tmp_path, retry_errors=True).run(
        tasks(3), lambda t, r: seen.append(t.instance_id) or ok(t, r)
    )
    assert seen == ["t1", "t2"] and load_records(tmp_path)["t2"].status == "ok"


def test_a_schema_1_record_of_a_dead_model_server_is_redone(tmp_path):
    old = InstanceRecord(
        schema_version=1,
        instance_id="t0",
        status="ok",  # what schema 1 wrote for a policy_error
        chosen=0,
        runs=[RunRecord(index=0, exit_status="policy_error", grade_status="empty_patch")],
    )
    (tmp_path / "instances" / "t0").mkdir(parents=True)
    (tmp_path / "instances" / "t0" / "done.json").write_text(old.model_dump_json())
    seen: list[str] = []
    make_runner(tmp_path).run(tasks(1), lambda t, r: seen.append(t.instance_id) or ok(t, r))
    assert seen == ["t0"]


def run(exit_status: str, failure_kind: str | None = None, grade: str = "unresolved") -> RunRecord:
    return RunRecord(
        index=0, exit_status=exit_status, failure_kind=failure_kind, failure="why", grade_status=grade
    )


def test_instance_outcome_separates_what_happened_from_how_it_ended():
    assert instance_outcome([run("submitted")], 0, False) == ("ok", None, None)
    assert instance_outcome([run("format_error")], 0, False)[0] == "ok"  # the model's own failure
    assert instance_outcome([run("policy_error", "policy_error")], 0, False) == (
        "error",
        "policy_error",
        "why",
    )
    assert instance_outcome([run("submitted", "infra_error", "infra_error")], 0, False)[:2] == (
        "error",
        "infra_error",
    )
    mixed = [run("env_error", "env_error"), run("submitted")]
    mixed[1].index = 1
    assert instance_outcome(mixed, 1, False)[0] == "ok"  # one run of two happened: a model outcome
    # the same status whichever layer stopped it: the agent at its deadline or the watchdog
    assert instance_outcome([run("timeout")], 0, True, 20)[:2] == ("timeout", "timeout")


def test_failure_summary_says_one_cause_once():
    recs = [
        InstanceRecord(
            instance_id=f"t{i}",
            status="error",
            error_kind="policy_error",
            error=f"t{i}: the model server at http://127.0.0.1:9/v1 is not answering",
        )
        for i in range(5)
    ]
    every, message = failure_summary(recs)
    assert every and message.count("not answering") == 1
    assert message.startswith("all 5 instance(s) failed: policy_error: <instance>: the model server")
    every, message = failure_summary([*recs[:2], InstanceRecord(instance_id="t9", status="ok")])
    assert not every and "2 of 3" in message
    assert failure_summary([InstanceRecord(instance_id="t9", status="ok")]) == (False, None)


def test_config_changes_name_result_changing_fields_only():
    saved = {"model": "gpt-4o", "workers": 1, "search": {"k": 4, "concurrency": 1}, "slice": "0:5"}
    new = {
        "model": "qwen72b",
        "workers": 8,
        "search": {"k": 8, "concurrency": 4},
        "slice": "0:50",
        "added": 1,
    }
    assert [k for k, _, _ in config_changes(saved, new)] == ["model", "search.k"]
    assert config_changes(saved, {**saved, "workers": 3, "instance_timeout": 9}) == []
    assert config_changes({"mode": "eval"}, {"model": "m"}) == [("mode", "eval", "run")]


def test_call_with_deadline_abandons_a_hung_call():
    release = threading.Event()
    t0 = time.monotonic()
    with pytest.raises(InstanceTimeout):
        call_with_deadline(lambda: release.wait(30), 0.3, "hung")
    assert time.monotonic() - t0 < 5
    release.set()
    assert call_with_deadline(lambda: 7, 5, "fine") == 7


def test_watchdog_closes_the_envs_of_a_late_instance():
    class Env:
        closed = 0

        def close(self) -> None:
            Env.closed += 1

    dog = Watchdog(interval=0.05)
    with dog.watch("late", 0.1) as inst:
        inst.track(Env())
        time.sleep(0.5)
        assert inst.expired and Env.closed == 1
        with pytest.raises(InstanceTimeout):
            inst.track(Env())  # no new container after the deadline
    dog.stop()


def test_run_id_is_stable_for_a_folder(tmp_path):
    first = stable_run_id(tmp_path)
    assert stable_run_id(tmp_path) == first
    with pytest.raises(RunnerError):
        stable_run_id(tmp_path, "another")
