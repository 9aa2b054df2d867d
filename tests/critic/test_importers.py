"""Other frameworks' trajectories as critic training data: mini-swe-agent run folders, OpenAI chat
logs with tool calls, Responses-API rollouts (fixtures built here, and nemo-gym's five real ones),
each rendered with the one tool-call rendering and trained on beside our own runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from critic.clients.http import LocalCritic
from critic.config import TrainConfig
from critic.data.chat import render_action, render_call
from critic.data.prepared import serialize
from critic.data.runs import DataError
from critic.data.sources import detect_format, load_sources
from critic.model import make_tiny_critic, make_tiny_tokenizer
from critic.serialize import Serializer
from critic.train.loop import train
from tests.critic.test_train import max_diff

SYSTEM = {"role": "system", "content": "You are an agent."}
ISSUE = {"role": "user", "content": "Fix the bug in src/file.py."}
NEMO_GYM = "nemo-gym==0.4.0"
CONTEXT = 16384
"""Whole messages of the real rollouts in the tiny tokenizer: prompt and issue ~3.8k tokens, a turn up to ~5k."""
ROLLOUTS = "responses_api_agents/mini_swe_agent_2/data/example_rollouts.jsonl"


def tool_call(command: str, call_id: str = "c1") -> dict:
    arguments = json.dumps({"command": command})
    return {"id": call_id, "type": "function", "function": {"name": "bash", "arguments": arguments}}


def chat_row(instance_id: str, resolved: bool, fix: bool) -> dict:
    """An OpenAI chat log: a text turn, a turn of two parallel tool calls, their results, a submit call."""
    commands = ["python fix.py" if fix else "cat src/file.py", "pytest -q"]
    return {
        "instance_id": instance_id,
        "resolved": resolved,
        "messages": [
            SYSTEM,
            {"role": "user", "content": [{"type": "text", "text": ISSUE["content"]}]},
            {"role": "assistant", "content": "Look first.\n\n```bash\nls\n```"},
            {"role": "user", "content": "src tests"},
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "hidden",
                "tool_calls": [tool_call(c, f"c{i}") for i, c in enumerate(commands)],
            },
            {"role": "tool", "tool_call_id": "c0", "content": "done"},
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "1 passed"}]},
            {"role": "assistant", "content": "Submit.", "tool_calls": [tool_call("submit")]},
        ],
    }


def responses_row(instance_id: str, reward: float, fix: bool) -> dict:
    """A Responses-API rollout as nemo-gym writes it (prompt items in, output items out, a reward)."""
    call = lambda cid, cmd: {  # noqa: E731
        "type": "function_call", "call_id": cid, "name": "bash", "arguments": json.dumps({"command": cmd}),
    }  # fmt: skip
    output = [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hidden"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Look first."}]},
        call("a", "ls"),
        call("b", "python fix.py" if fix else "cat src/file.py"),
        {"type": "function_call_output", "call_id": "a", "output": "src tests"},
        {"type": "function_call_output", "call_id": "b", "output": "done"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Submit."}]},
        call("c", "submit"),
    ]
    prompt = [{"type": "message", **SYSTEM}, {"type": "message", **ISSUE}]
    return {
        "responses_create_params": {"input": prompt, "temperature": 0.6},
        "response": {"output": output, "usage": {}},
        "reward": reward,
        "instance_id": instance_id,
        "metadata": {"instance_id": instance_id},
    }


def mini_folder(root: Path) -> Path:
    """A mini-swe-agent run folder: v1 text actions, v2 tool calls, an empty patch; swebench's report."""
    root.mkdir(parents=True)
    preds = {}
    for iid, kind, patch in [
        ("a__a-1", "text", "diff a"),
        ("b__b-2", "tools", "diff b"),
        ("c__c-3", "text", ""),
    ]:
        action = (
            {"role": "assistant", "content": "Fix.\n\n```bash\npython fix.py\n```"}
            if kind == "text"
            else {"role": "assistant", "content": "Fix.", "tool_calls": [tool_call("python fix.py")]}
        )
        observation = (
            {"role": "user", "content": "<returncode>0</returncode>"}
            if kind == "text"
            else {"role": "tool", "tool_call_id": "c1", "content": "<returncode>0</returncode>"}
        )
        messages = [SYSTEM, ISSUE, action, observation, {"role": "exit", "content": "", "extra": {}}]
        traj = {"info": {"exit_status": "Submitted", "submission": patch}, "messages": messages}
        (root / iid).mkdir()
        (root / iid / f"{iid}.traj.json").write_text(
            json.dumps({**traj, "trajectory_format": "mini-swe-agent-1.1"})
        )
        preds[iid] = {"model_name_or_path": "m", "instance_id": iid, "model_patch": patch}
    (root / "preds.json").write_text(json.dumps(preds))
    report = {
        "resolved_ids": ["b__b-2"],
        "unresolved_ids": ["a__a-1"],
        "error_ids": [],
        "completed_ids": ["a__a-1", "b__b-2"],
    }
    (root / "m.run1.json").write_text(json.dumps(report))
    return root


def run_folder(root: Path, n: int = 6) -> Path:
    """Our own run folder (trajectories/<id>/trajectory.json + grades/<id>.json)."""
    for i in range(n):
        iid, fix = f"ours__t-{i}", i % 2 == 0
        d = root / "trajectories" / iid
        d.mkdir(parents=True)
        action = "```bash\npython fix.py\n```" if fix else "```bash\ncat src/file.py\n```"
        messages = [
            SYSTEM,
            ISSUE,
            {"role": "assistant", "content": action},
            {"role": "user", "content": "ok"},
        ]
        (d / "trajectory.json").write_text(
            json.dumps({"instance_id": iid, "messages": messages, "patch": ""})
        )
        (root / "grades").mkdir(exist_ok=True)
        (root / "grades" / f"{iid}.json").write_text(json.dumps({"instance_id": iid, "resolved": fix}))
    return root


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_tool_calls_render_as_fenced_actions():
    assert render_call("bash", '{"command": "ls -la"}') == "```bash\nls -la\n```"
    assert render_call("submit", "{}") == "```submit\n```"
    assert render_call("edit", {"path": "a.py", "line": 3}) == '```edit\n{"path": "a.py", "line": 3}\n```'
    assert render_call("bash", "not json") == "```bash\nnot json\n```"
    assert render_action("  Think.\n", [("bash", '{"command": "ls"}'), ("bash", {"command": "pwd"})]) == (
        "Think.\n\n```bash\nls\n```\n\n```bash\npwd\n```"
    )


def test_chat_logs_and_responses_rollouts_become_the_same_turns(tmp_path):
    chat = write_jsonl(tmp_path / "chat.jsonl", [chat_row("x__x-1", True, fix=True)])
    responses = write_jsonl(tmp_path / "rollouts.jsonl", [responses_row("x__x-1", 1.0, fix=True)])
    assert (detect_format(chat), detect_format(responses)) == ("openai_messages", "responses")
    [c], [r] = load_sources([chat]), load_sources([responses])
    assert c.resolved and r.resolved and c.instance_id == r.instance_id == "x__x-1"
    assert [m["role"] for m in c.messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "user",
        "assistant",
    ]
    assert c.messages[4]["content"] == "```bash\npython fix.py\n```\n\n```bash\npytest -q\n```"
    assert (
        c.messages[6]["content"] == "1 passed"
        and c.messages[-1]["content"] == "Submit.\n\n```bash\nsubmit\n```"
    )
    # Responses items: a message and the calls after it are one turn; each output an observation
    assert [m["role"] for m in r.messages] == ["system", "user", "assistant", "user", "user", "assistant"]
    assert r.messages[2]["content"] == "Look first.\n\n```bash\nls\n```\n\n```bash\npython fix.py\n```"
    assert r.messages[-1]["content"] == c.messages[-1]["content"]
    assert "hidden" not in json.dumps(c.messages + r.messages)  # reasoning is not shown to the critic


def test_mini_swe_agent_folder_labels_from_the_report_and_empty_patches(tmp_path):
    folder = mini_folder(tmp_path / "mini")
    assert detect_format(folder) == "mini_swe_agent"
    episodes = {e.instance_id: e for e in load_sources([folder])}
    assert {i: e.resolved for i, e in episodes.items()} == {"a__a-1": False, "b__b-2": True, "c__c-3": False}
    text, tools = episodes["a__a-1"].messages, episodes["b__b-2"].messages
    assert [m["role"] for m in text] == [m["role"] for m in tools] == ["system", "user", "assistant", "user"]
    assert text[2]["content"] == tools[2]["content"] == "Fix.\n\n```bash\npython fix.py\n```"


def test_sources_without_labels_or_format_are_one_line_errors(tmp_path):
    folder = mini_folder(tmp_path / "mini")
    (folder / "m.run1.json").unlink()
    (folder / "c__c-3" / "c__c-3.traj.json").unlink()
    with pytest.raises(
        DataError, match="no grading result for its 2 trajectories; .*swe-search eval --predictions"
    ):
        load_sources([folder])
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "x"}])
    with pytest.raises(DataError, match="rows with none of trajectory .* its first row has prompt"):
        load_sources([bad])
    unlabelled = write_jsonl(
        tmp_path / "nolabel.jsonl", [{k: v for k, v in chat_row("x", True, True).items() if k != "resolved"}]
    )
    with pytest.raises(DataError, match="no label"):
        load_sources([unlabelled])


@pytest.fixture(scope="session")
def nemo_rollouts() -> Path:
    """nemo-gym 0.4.0's five real mini-swe-agent rollouts (Apache-2.0), from its wheel, cached across
    sessions; beside them `example.jsonl`, the five classic Verified rows they ran on."""
    cache = Path(tempfile.gettempdir()) / "swe-search-test-cache" / "nemo-gym-0.4.0"
    target = cache / Path(ROLLOUTS).name
    if not (target.is_file() and (cache / "example.jsonl").is_file()):
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--ignore-requires-python",
            NEMO_GYM,
            "-d",
            str(cache),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        [wheel] = cache.glob("nemo_gym-0.4.0-*.whl")
        with zipfile.ZipFile(wheel) as z:
            (cache / "example.jsonl").write_bytes(z.read(str(Path(ROLLOUTS).with_name("example.jsonl"))))
            target.write_bytes(z.read(ROLLOUTS))
        wheel.unlink()
    return target


def test_nemo_gym_classic_rows_are_refused_with_the_flag_that_joins_them(nemo_rollouts):
    from envs.tasks import load_tasks
    from eval.batch.preflight import TaskNotGradable, check_tasks

    tasks = load_tasks(nemo_rollouts.with_name("example.jsonl"))
    assert len(tasks) == 5 and not any(t.instance.get("eval_script") for t in tasks)
    with pytest.raises(
        TaskNotGradable, match="5 of 5 selected task.* are classic SWE-bench rows .*--fields-from DATASET"
    ):
        check_tasks(tasks)


@pytest.mark.slow
def test_nemo_gym_rollouts_load_serialize_and_train_beside_our_runs(tmp_path, nemo_rollouts):
    episodes = load_sources([nemo_rollouts])
    assert len(episodes) == 5 and sum(e.resolved for e in episodes) == 1
    assert all(e.turns >= 5 for e in episodes) and max(e.turns for e in episodes) >= 20
    tokenizer = make_tiny_tokenizer()
    serializer = Serializer(tokenizer, max_tokens=CONTEXT)
    for episode, prepared in zip(episodes, serialize(episodes, serializer), strict=True):
        # every turn's marker lands in exactly one window; each window fits the context
        assert sorted(t for w in prepared.windows for t in w.turns) == list(range(episode.turns))
        assert all(len(w.ids) <= CONTEXT for w in prepared.windows)
    assert max(len(p.windows) for p in serialize(episodes, serializer)) > 1  # the truncation rule cut them

    ours, mini = run_folder(tmp_path / "ours"), mini_folder(tmp_path / "mini")
    chat = write_jsonl(
        tmp_path / "chat.jsonl", [chat_row(f"c__c-{i}", i % 2 == 0, i % 2 == 0) for i in range(4)]
    )
    responses = write_jsonl(
        tmp_path / "rollouts.jsonl", [responses_row(f"r__r-{i}", float(i % 2), i % 2 == 1) for i in range(4)]
    )
    # trained compressed (critic/README.md), so that the CPU epoch takes seconds
    init = make_tiny_critic(tmp_path / "init")
    sources = [str(nemo_rollouts), str(ours), str(mini), str(chat), str(responses)]
    cfg = TrainConfig(
        model=str(init), data=sources, eval_data=[str(ours)], out_dir=str(tmp_path / "out"), max_context=1024,
        epochs=1, lr=1e-3, batch_size=8, micro_batch_size=4, device="cpu", log_every=10_000,
        compression={"head": 60, "tail": 60},
    )  # fmt: skip
    result = train(cfg)
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["data_formats"] == {
        str(nemo_rollouts): "responses",
        str(ours): "run_folder",
        str(mini): "mini_swe_agent",
        str(chat): "openai_messages",
        str(responses): "responses",
    }
    assert all(math.isfinite(e["train_loss"]) for e in result["epochs"])
    assert max_diff(tmp_path / "out", init) > 1e-4  # it trained
    real = episodes[0].messages
    [value] = LocalCritic(tmp_path / "out", device="cpu").score(real[:-1], [real[-1]["content"]])
    assert 0.0 <= value <= 1.0
