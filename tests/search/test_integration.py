"""Search end to end in real containers: a critic trained here steers lookahead and selection.

Slow: real Docker (the example-task images), a tiny critic trained on CPU, swebench grading.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from agent.config import AgentConfig, Templates
from agent.policies import ScriptedPolicy
from agent.scaffold import initial_messages
from agent.types import Message
from envs.types import Task

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tasks"
TASK_IDS = ("swe-search__confkit-1", "swe-search__textkit-1")
# Short prompts keep the critic's inputs small, so the tiny model trains in seconds on CPU.
AGENT = AgentConfig(
    install_tools=False,
    cost_limit=None,
    step_limit=6,
    templates=Templates(
        system="Fix the issue. Reply with your reasoning and one ```bash block.",
        instance="{{ problem_statement }}",
        next_step="{{ observation }}\n(Current directory: {{ cwd }}) bash-$",
        format_error="Format error: {{ error }}",
    ),
)
SUBMIT = "The fix is in place.\n```bash\nsubmit\n```"
OBSERVATION = "(the command ran and printed nothing)\n(Current directory: /testbed) bash-$"


def right(task_id: str) -> str:
    """The decisive good action: apply the task's gold patch."""
    gold = (EXAMPLES / "tasks" / task_id / "gold.patch").read_text().rstrip()
    return f"I will apply the fix.\n```bash\ncd /testbed && git apply <<'PATCH'\n{gold}\nPATCH\n```"


def wrong(task_id: str) -> str:
    """A plausible but useless action: it changes a file without fixing anything."""
    return "I will leave a note for later.\n```bash\necho '# TODO: look into this' >> /testbed/README.md\n```"


def history(task: Task) -> list[Message]:
    return initial_messages(AGENT, task.problem_statement, task.workdir, task.instance_id)


@pytest.fixture(scope="module")
def tasks(example_task_images: list[Task]) -> dict[str, Task]:
    """The two example tasks used here, with their images built (tests/conftest.py)."""
    return {t.instance_id: t for t in example_task_images if t.instance_id in TASK_IDS}


@pytest.fixture(scope="module")
def critic(tasks, tmp_path_factory):
    """A tiny critic trained (critic.train.loop, TD(lambda) on CPU) to prefer the right action, then submit."""
    from critic.clients.http import LocalCritic
    from critic.config import TrainConfig
    from critic.model import make_tiny_critic
    from critic.train.loop import train

    out = tmp_path_factory.mktemp("critic")
    rows = []
    for task in tasks.values():
        for action, resolved in ((right(task.instance_id), True), (wrong(task.instance_id), False)):
            chat = history(task) + [
                {"role": "assistant", "content": action},
                {"role": "user", "content": OBSERVATION},
                {"role": "assistant", "content": SUBMIT},
            ]
            turns = [
                {"role": "ai" if m["role"] == "assistant" else m["role"], "text": m["content"]} for m in chat
            ]
            rows.append({"instance_id": task.instance_id, "target": resolved, "trajectory": turns})
    data = out / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows * 4))
    config = TrainConfig(
        model=str(make_tiny_critic(out / "init")),
        data=[str(data)],
        eval_data=[str(data)],
        out_dir=str(out / "trained"),
        epochs=20,
        lr=1e-2,
        batch_size=2,
        warmup_ratio=0.0,
        device="cpu",
        log_every=1000,
    )
    train(config)
    return LocalCritic(out / "trained", device="cpu")


def make_env(run_id: str):
    from envs.docker import DockerEnv

    return lambda task, i: DockerEnv(task, run_id=f"{run_id}-{i}")


def grade(task: Task, patch: str, run_id: str):
    from eval.grading import grade as swebench_grade

    return swebench_grade(task, patch, run_id=run_id, timeout=300)


def test_lookahead_picks_the_right_candidate_and_the_patch_resolves(tasks, critic, tmp_path):
    from search.config import SearchConfig
    from search.solve import solve

    task = tasks["swe-search__confkit-1"]
    bad, good = wrong(task.instance_id), right(task.instance_id)
    assert critic.score(history(task), [bad, good])[1] > critic.score(history(task), [bad, good])[0]

    def replies(messages: list[Message]) -> list[str]:
        first = not any(m["role"] == "assistant" for m in messages)
        return [bad, good] if first else [SUBMIT]

    config = SearchConfig(strategy="lookahead", k=2)
    result = solve(task, config, make_env("test-search-la"), ScriptedPolicy(replies), critic, AGENT, tmp_path)

    traj = result.trajectory
    decisive = traj.steps[0]
    assert [c.text for c in decisive.candidates] == [bad, good]
    assert decisive.critic_calls == 1 and decisive.chosen_index == 1
    assert decisive.candidates[1].q > decisive.candidates[0].q
    assert traj.exit_status.value == "submitted" and traj.final_q is not None
    assert "InvalidValueError" in result.patch
    assert grade(task, result.patch, "test-search-la").resolved


def test_lookahead_select_on_two_tasks_records_every_candidate_and_picks_the_fixed_run(
    tasks, critic, tmp_path
):
    """N=2 runs of K=2 lookahead per task: one run is offered only the wrong action, the other both.

    Lookahead must take the right action where it is offered, and selection (final_q) must keep that run.
    """
    from search.config import SearchConfig
    from search.solve import solve

    for task in tasks.values():
        bad, good = wrong(task.instance_id), right(task.instance_id)
        offered: list[str] = []
        lock = threading.Lock()

        def replies(messages: list[Message], bad=bad, good=good, offered=offered, lock=lock) -> list[str]:
            if any(m["role"] == "assistant" for m in messages):
                return [SUBMIT]
            with lock:  # the first run to ask gets only the wrong action
                offered.append("bad-only" if not offered else "both")
                return [bad, bad] if offered[-1] == "bad-only" else [bad, good]

        config = SearchConfig(strategy="lookahead+select", k=2, n=2, concurrency=2)
        out = tmp_path / task.instance_id
        result = solve(task, config, make_env(f"test-search-ls-{task.instance_id}"), ScriptedPolicy(replies),
                       critic, AGENT, out)  # fmt: skip

        assert [r.error for r in result.runs] == [None, None]
        for r in result.runs:
            first = r.trajectory.steps[0]
            if first.candidates[0].count == 2:  # offered the wrong action twice: merged, no critic call
                assert (
                    len(first.candidates) == 1 and first.critic_calls == 0 and first.candidates[0].q is None
                )
            else:
                assert [c.text for c in first.candidates] == [bad, good]
                assert all(c.q is not None for c in first.candidates) and first.chosen_index == 1
        fixed = [
            i for i, r in enumerate(result.runs) if r.trajectory.steps[0].action.startswith("cd /testbed")
        ]
        assert len(fixed) == 1 and result.chosen == fixed[0]
        selection = json.loads((out / "selection.json").read_text())
        assert selection["chosen"] == fixed[0] and selection["rule"] == "final_q"
        assert all((out / f"run-{i}" / "trajectory.json").is_file() for i in range(2))
        assert grade(task, result.patch, f"test-search-ls-{task.instance_id}").resolved
