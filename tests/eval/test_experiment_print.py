"""What `swe-search experiment` prints at the end fits 80 columns: in a log or CI every cell stays
on one line (values on one row, intervals on their own row); experiment.md keeps the full table."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from eval.experiment.cli import print_table
from eval.experiment.render import CONTROLS, TABLE
from eval.experiment.report import GAINS


def _cell(value: float, lo: float, hi: float) -> dict[str, float]:
    return {"value": value, "lo": lo, "hi": hi}


def widest_report() -> dict:
    """The widest numbers a report can hold: 100.0 with [100.0, 100.0], gains -100.0 [-100.0, +100.0]."""
    full = _cell(1.0, 1.0, 1.0)
    result = {
        "table": {c: full for c in TABLE},
        "controls": {c: full for c in CONTROLS},
        "gains": {g: _cell(-1.0, -1.0, 1.0) for g in GAINS},
    }
    return {
        "policy": "openai/gpt-4o-2024-08-06 [bold]",
        "settings": {"repeats": 16, "k": 10, "n": 16, "confidence": 0.95},
        "results": {key: result for key in ("0", "1", "12", "pooled")},
    }


def test_the_printed_table_fits_80_columns_and_wraps_no_cell(tmp_path: Path, capsys) -> None:
    (tmp_path / "experiment.json").write_text(json.dumps(widest_report()))
    out = io.StringIO()
    print_table(tmp_path / "experiment.md", Console(file=out, width=80, color_system=None))
    *lines, where = out.getvalue().splitlines()
    assert where == f"report: {tmp_path / 'experiment.md'}"  # a path is as long as it is, never folded
    # the inspect command goes to stdout by plain print, so that no console folds it
    assert capsys.readouterr().out == f"see every decision: swe-search inspect {tmp_path}\n"
    assert max(map(len, lines)) <= 80, "\n" + out.getvalue()
    values = [line for line in lines if line.split()[:1] == ["pooled"]]
    assert len(values) == 2 and values[0].split() == ["pooled", "100.0", "100.0", "100.0", "100.0"]
    assert values[1].split() == ["pooled", "-100.0", "-100.0", "-100.0"]  # the gains
    assert sum(line.count("[100.0, 100.0]") == 4 for line in lines) == 4  # a row of intervals per key
    assert sum(line.count("[-100.0, +100.0]") == 3 for line in lines) == 4
    assert "policy openai/gpt-4o-2024-08-06 [bold]" in out.getvalue()  # shown as text, not markup
