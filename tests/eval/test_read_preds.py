"""read_preds: a malformed predictions file is refused with the line that is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.batch.records import RunnerError, read_preds


def test_malformed_jsonl_prediction_names_the_line_of_the_file(tmp_path: Path) -> None:
    good = json.dumps({"instance_id": "a__b-1", "model_patch": "x \u2028 y"}, ensure_ascii=False)
    path = tmp_path / "preds.jsonl"
    path.write_text(f"\n{good}\n\n{{broken\n")
    with pytest.raises(RunnerError, match=r"preds\.jsonl: line 4: not valid JSON"):
        read_preds(path)
    path.write_text(f"{good}\n{json.dumps({'model_patch': ''})}\n")
    with pytest.raises(RunnerError, match=r"preds\.jsonl line 2: a prediction has no instance_id"):
        read_preds(path)
    path.write_text(f"{good}\n[1, 2]\n")
    with pytest.raises(RunnerError, match=r"line 2: .*must be a JSON object"):
        read_preds(path)
    path.write_text(f"{good}\n")
    assert read_preds(path)["a__b-1"]["model_patch"] == "x \u2028 y"


def test_malformed_json_predictions_are_a_runner_error(tmp_path: Path) -> None:
    path = tmp_path / "preds.json"
    path.write_text('[{"instance_id": "a"},\n oops]')
    with pytest.raises(RunnerError, match=r"preds\.json: not valid JSON .*line 2"):
        read_preds(path)
