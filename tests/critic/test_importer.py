import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from critic.data.runs import DataError, load_nebius, load_run_folder
from critic.data.sources import load_sources

ROW = {
    "instance_id": "astropy__astropy-12907",
    "model_name": "swe-agent-llama-70b",
    "target": True,
    "exit_status": "submitted",
    "generated_patch": "diff --git a/x b/x",
    "eval_logs": "PASSED",
    "trajectory": [
        {
            "role": "system",
            "text": "SETTING: you are an agent",
            "system_prompt": "SETTING: you are an agent",
            "mask": False,
            "cutoff_date": "01.01.2023",
        },
        {
            "role": "user",
            "text": "<issue>bug</issue>",
            "system_prompt": "SETTING: you are an agent",
            "mask": False,
            "cutoff_date": "01.01.2023",
        },
        {
            "role": "ai",
            "text": "```\nls\n```",
            "system_prompt": "SETTING: you are an agent",
            "mask": True,
            "cutoff_date": "01.01.2023",
        },
        {
            "role": "user",
            "text": "a.py\n(Open file: n/a)",
            "system_prompt": "SETTING: you are an agent",
            "mask": False,
            "cutoff_date": "01.01.2023",
        },
        {
            "role": "ai",
            "text": "```\nsubmit\n```",
            "system_prompt": "SETTING: you are an agent",
            "mask": True,
            "cutoff_date": "01.01.2023",
        },
    ],
}


def test_nebius_jsonl_and_parquet_import_the_same_episodes(tmp_path):
    other = {
        **ROW,
        "instance_id": "django__django-1",
        "target": False,
        "trajectory": json.dumps(ROW["trajectory"][1:]),
    }
    jl = tmp_path / "rows.jsonl"
    jl.write_text(json.dumps(ROW) + "\n" + json.dumps(other) + "\n")
    pq.write_table(
        pa.Table.from_pylist([ROW, {**other, "trajectory": ROW["trajectory"][1:]}]), tmp_path / "rows.parquet"
    )
    for path in (jl, tmp_path / "rows.parquet"):
        eps = load_nebius(path)
        assert [e.resolved for e in eps] == [True, False]
        assert [m["role"] for m in eps[0].messages] == ["system", "user", "assistant", "user", "assistant"]
        assert eps[0].messages[2]["content"] == "```\nls\n```" and eps[0].turns == 2
        assert eps[1].messages[0] == {"role": "system", "content": "SETTING: you are an agent"}  # prepended


def test_unknown_role_is_a_data_error(tmp_path):
    bad = {**ROW, "trajectory": [{"role": "robot", "text": "x"}]}
    (tmp_path / "bad.jsonl").write_text(json.dumps(bad) + "\n")
    with pytest.raises(DataError, match="unknown role"):
        load_nebius(tmp_path / "bad.jsonl")


def test_run_folder_loader_matches_trajectories_to_grades(tmp_path):
    msgs = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "i"},
        {"role": "assistant", "content": "a"},
    ]
    for iid, sub, resolved in [("a__1", "run-0", True), ("a__1", "run-1", False), ("b__2", "", False)]:
        d = tmp_path / "trajectories" / iid / sub
        d.mkdir(parents=True, exist_ok=True)
        (d / "trajectory.json").write_text(json.dumps({"instance_id": iid, "messages": msgs, "patch": ""}))
        name = f"{iid}.{sub}.json" if sub else f"{iid}.json"
        (tmp_path / "grades").mkdir(exist_ok=True)
        (tmp_path / "grades" / name).write_text(json.dumps({"instance_id": iid, "resolved": resolved}))
    eps = load_run_folder(tmp_path)
    assert sorted((e.instance_id, e.resolved) for e in eps) == [
        ("a__1", False),
        ("a__1", True),
        ("b__2", False),
    ]
    assert len(load_sources([tmp_path])) == 3
