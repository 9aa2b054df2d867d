"""Report maths (oracle, critic-selected, mean, the Pass@1-vs-n curve) against hand-built results."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
import yaml

from envs.files import write_atomic
from eval.batch.records import InstanceRecord, RunRecord
from eval.report import run_report as report
from eval.report.selection_stats import RunView, selected_resolved, selection_curve, selection_metrics
from search.select import RunOutcome, choose


def views(resolved: list[bool], qs: list[float | None]) -> list[RunView]:
    return [RunView(resolved=r, final_q=q) for r, q in zip(resolved, qs, strict=True)]


# A: the critic picks the resolved run; B: it picks a failing one; C: nothing resolves.
A = views([True, False, False], [0.9, 0.5, 0.1])
B = views([False, True, False], [0.8, 0.3, 0.2])
C = views([False, False, False], [0.4, 0.6, 0.5])


def test_selection_metrics_match_hand_computed_values():
    m = selection_metrics([A, B, C], chosen=[0, 0, 1])
    assert m["mean_single_run_pass_at_1"] == pytest.approx(2 / 9)
    assert m["oracle_pass_at_n"] == pytest.approx(2 / 3)
    assert m["selected_pass_at_1"] == pytest.approx(1 / 3)
    assert m["gap_closed"] == pytest.approx((1 / 3 - 2 / 9) / (2 / 3 - 2 / 9))  # 0.25


def test_curve_enumerates_subsets_exactly():
    curve = selection_curve([A, B, C])
    assert [c["n"] for c in curve] == [1, 2, 3]
    assert all(c["method"] == "exact" for c in curve)
    # n = 1: every strategy is a random run
    assert curve[0]["selected"] == pytest.approx(2 / 9)
    assert curve[0]["oracle"] == pytest.approx(2 / 9)
    # n = 2: A picks resolved in {0,1},{0,2} -> 2/3; B only in {1,2} -> 1/3; C 0
    assert curve[1]["selected"] == pytest.approx((2 / 3 + 1 / 3) / 3)
    assert curve[1]["oracle"] == pytest.approx((2 / 3 + 2 / 3) / 3)
    assert curve[1]["mean"] == pytest.approx(2 / 9)
    # n = N: the full selection and the oracle
    assert curve[2]["selected"] == pytest.approx(1 / 3)
    assert curve[2]["oracle"] == pytest.approx(2 / 3)


def test_gap_closed_is_none_when_oracle_equals_mean():
    m = selection_metrics([views([True, True], [0.1, 0.2])], chosen=[1])
    assert m["gap_closed"] is None
    assert m["selected_pass_at_1"] == 1.0


def test_submitted_runs_rank_before_higher_q_and_match_search_choose():
    runs = [
        RunView(resolved=False, preferred=False, final_q=0.99),
        RunView(resolved=True, preferred=True, final_q=0.2),
        RunView(resolved=False, preferred=True, final_q=0.2),
        RunView(resolved=False, preferred=True, final_q=None),
    ]
    assert selected_resolved(runs, [0, 1, 2]) == 1.0  # unsubmitted 0.99 loses; tie -> lowest index
    for k in range(1, len(runs) + 1):
        for subset in itertools.combinations(range(len(runs)), k):
            outcomes = [
                RunOutcome(
                    index=j,
                    submitted=runs[i].preferred,
                    patch="x" if runs[i].preferred else "",
                    final_q=runs[i].final_q,
                )
                for j, i in enumerate(subset)
            ]
            picked = subset[choose(outcomes, "final_q").chosen]
            assert selected_resolved(runs, subset) == float(runs[picked].resolved), subset


def test_random_rule_is_the_expectation_over_preferred_runs():
    runs = [RunView(True), RunView(False), RunView(True, preferred=False)]
    assert selected_resolved(runs, [0, 1, 2], "random") == pytest.approx(0.5)


def test_large_n_is_sampled_with_a_seed_and_estimates_the_exact_value():
    runs = views([i % 3 == 0 for i in range(8)], [i / 10 for i in range(8)])
    draws = 2000
    # C(8, 4) = 70 subsets: above a limit of 3 they are sampled, under the default all enumerated
    first = selection_curve([runs], max_exact_subsets=3, sampled_subsets=draws)
    assert first == selection_curve([runs], max_exact_subsets=3, sampled_subsets=draws)  # seeded
    exact = selection_curve([runs])
    assert first[3]["method"] == "sampled" and exact[3]["method"] == "exact"
    assert 0.0 < exact[3]["selected"] < exact[3]["oracle"] < 1.0  # not a value any guess would hit
    # each figure is a mean of `draws` draws of a value in [0, 1]: its standard error is at most
    # sqrt(0.25 / draws) = 0.011; allow 4.5 of them
    tolerance = 4.5 * math.sqrt(0.25 / draws)
    for key in ("selected", "oracle", "mean"):
        assert first[3][key] == pytest.approx(exact[3][key], abs=tolerance), key


# ----------------------------------------------------------------------------- a hand-built run folder


STATS_V2 = {"prompt_tokens": 100, "completion_tokens": 30, "cost": 0.5, "cached_prompt_tokens": 40}
STATS_V2 |= {"critic_calls": 3, "critic_usage": {"prompt_tokens": 20, "completion_tokens": 0, "cost": 0.0}}
STATS_V1 = {"prompt_tokens": 100, "completion_tokens": 30, "cost": 0.5, "critic_calls": 3}


def _traj(qs: list[tuple[float, float]], version: int = 2) -> dict:
    steps = [
        {
            "index": i,
            "chosen_index": 0,
            "candidates": [{"text": "a", "command": "ls", "q": c}, {"text": "b", "command": "pwd", "q": r}],
        }
        for i, (c, r) in enumerate(qs)
    ]
    stats = STATS_V2 if version == 2 else STATS_V1  # 1: written before usage was counted per request
    return {"schema_version": version, "instance_id": "x", "steps": steps, "stats": stats}


def _folder(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    (out / "run.json").parent.mkdir(parents=True)
    (out / "run.json").write_text(json.dumps({"run_id": "r1"}))
    (out / "config.yaml").write_text(
        yaml.safe_dump({"model": "m", "search": {"strategy": "lookahead+select", "rule": "final_q"}})
    )
    spec = {
        "i1": ([True, False], [0.9, 0.4]),
        "i2": ([False, False], [0.3, 0.8]),
        "i3": ([False, True], [0.7, 0.2]),
    }
    for iid, (resolved, finals) in spec.items():
        runs = []
        for k, (res, fq) in enumerate(zip(resolved, finals, strict=True)):
            rel = f"trajectories/{iid}/run-{k}/trajectory.json"
            qs = [(0.5, 0.4), (0.6, 0.1), (fq, 0.0)] if res else [(0.5, 0.6), (0.7, 0.2), (fq, 0.1)]
            write_atomic(out / rel, json.dumps(_traj(qs, version=1 if iid == "i2" else 2)))
            runs.append(
                RunRecord(
                    index=k,
                    trajectory=rel,
                    exit_status="submitted",
                    steps=3,
                    final_q=fq,
                    submitted=True,
                    patch_empty=False,
                    grade_status="resolved" if res else "unresolved",
                    resolved=res,
                    cost=0.5,
                )
            )
        chosen = max(range(2), key=lambda k: finals[k])
        rec = InstanceRecord(
            instance_id=iid,
            status="ok",
            chosen=chosen,
            model_patch="diff",
            exit_status="submitted",
            grade_status=runs[chosen].grade_status,
            resolved=runs[chosen].resolved,
            runs=runs,
            cost=1.0,
        )
        write_atomic(out / "instances" / iid / "done.json", rec.model_dump_json())
    err = InstanceRecord(
        instance_id="i4",
        status="error",
        error="RuntimeError: boom",
        error_kind="exception",
        exit_status="error",
    )
    write_atomic(out / "instances" / "i4" / "done.json", err.model_dump_json())
    return out


def test_report_counts_infra_errors_apart_and_writes_files(tmp_path):
    out = _folder(tmp_path)
    md = report.write_report(out, expected=5)
    data = json.loads((out / "report.json").read_text())
    assert data["schema_version"] == report.REPORT_SCHEMA_VERSION
    t = data["totals"]
    # i4 failed for infrastructure reasons: finished, but not an attempt of the model's
    assert (t["finished"], t["attempted"], t["infra_errors"], t["resolved"], t["unfinished"]) == (
        4,
        3,
        1,
        1,
        1,
    )
    assert t["pass_at_1"] == pytest.approx(1 / 3)
    assert data["by_grade_status"] == {"resolved": 1, "unresolved": 2}
    assert data["by_instance_status"] == {"ok": 3, "error": 1}
    assert data["by_error_kind"] == {"exception": 1}
    sel = data["selection"]
    assert sel["oracle_pass_at_n"] == pytest.approx(2 / 3)
    assert sel["mean_single_run_pass_at_1"] == pytest.approx(1 / 3)
    assert sel["selected_pass_at_1"] == pytest.approx(1 / 3)
    look = data["lookahead"]
    assert look["chosen_q"]["count"] == 18 and look["rejected_q"]["count"] == 18
    assert look["runs"] == {"resolved": 2, "unresolved": 4}
    assert look["q_by_step"]["resolved"][0] == {"step": 0, "mean": 0.5, "count": 2}
    assert "_series" not in look
    for plot in data["plots"]:
        assert (out / plot).read_bytes()[:4] == b"\x89PNG"
    assert {"plots/selection_curve.png", "plots/q_by_step.png", "plots/q_chosen_vs_rejected.png"} <= set(
        data["plots"]
    )
    use = data["usage"]  # 6 runs of 4 finished instances; i2's 2 trajectories are of schema_version 1
    assert use["runs"] == 6 and use["total"] == {
        "prompt_tokens": 600,
        "cached_prompt_tokens": 160,
        "completion_tokens": 180,
        "critic_tokens": 80,
        "cost_usd": pytest.approx(3.0),
    }
    assert use["per_instance"]["prompt_tokens"] == 150 and len(use["notes"]) == 1
    assert use["notes"][0].startswith("2 trajectories have prompt tokens counted once per sample")
    text = md.read_text()
    assert "| Pass@1 | 33.3% |" in text and "oracle Pass@2" in text
    assert "| tokens | 600 prompt (160 cached), 180 completion, 80 critic |" in text
    assert "| total | 600 | 160 (27%) | 180 | 80 | $3.0000 |" in text and "Note: 2 trajectories have" in text
    assert "| infra errors (not counted) | 1 |" in text and "never as the model's failures" in text
