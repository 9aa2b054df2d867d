"""The testbed policy (agent.testbed): its knobs, its reproducibility, its edits' form, and real runs.

The tasks are two example tasks copied into a temporary task repo, given a self-contained example
in their problem statements and hand-written decoys (made with git from the library's source), so
these tests do not depend on examples/testbed.
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from agent import scaffold
from agent.config import AgentConfig
from agent.policies import policy_factory
from agent.testbed import REPRO_PATH, TestbedKnobs, TestbedPolicy, analytic_pass_at_1, check_failed
from agent.testbed_styles import STYLES, scout_check_script
from agent.testbed_task import GOLD, TestbedError, parse_patch, tempered
from agent.types import Message
from envs.tasks import load_tasks
from envs.types import Observation, Task
from eval.cli import main
from tests.helpers.containers import labelled_containers
from tests.helpers.edits import skeleton

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tasks"
CONFIG = AgentConfig()
TEXTKIT, CONFKIT = "swe-search__textkit-2", "swe-search__confkit-2"

PROBLEMS = {
    TEXTKIT: """truncate() cuts strings that already fit the width

`truncate(text, width)` is documented to return `text` unchanged when it is at most
`width` characters long, but a string whose length is exactly `width` gets cut:

```python
from textkit import truncate

assert truncate("hello", 6) == "hello"
assert truncate("hello", 5) == "hello", truncate("hello", 5)
assert truncate("hello!", 5) == "he...", truncate("hello!", 5)
```

textkit 0.3.1
""",
    CONFKIT: """Values containing `#` do not survive `dumps()` -> `loads()`

A value that contains `#` is cut at the `#` when it is read back. The writer should escape
`#` as `\\#` and the reader should read `\\#` as a literal `#`:

```python
from confkit import dumps, loads

values = {"db.password": "p#ss#word", "theme.accent": "#00ff00"}
assert loads(dumps(values)) == values, loads(dumps(values))
assert loads("password = s3cr\\\\#t  # rotated monthly\\n") == {"password": "s3cr#t"}
```

confkit 1.2.0
""",
}

# decoy name -> (start from the gold fix?, file, old text, new text): plausible wrong edits of the same form
DECOYS = {
    TEXTKIT: {
        "boundary-minus": (True, "textkit/trunc.py", "<= width:", "<= width - 1:"),
        "boundary-plus": (True, "textkit/trunc.py", "<= width:", "<= width + 1:"),
        "wrong-place": (
            False,
            "textkit/trunc.py",
            "text[: width - len(placeholder)]",
            "text[: width - len(placeholder) + 1]",
        ),
    },
    CONFKIT: {
        "no-lookbehind": (True, "confkit/reader.py", 're.compile(r"(?<!\\\\)#.*")', 're.compile(r"#.*")'),
        "first-only": (
            True,
            "confkit/writer.py",
            'value.replace("#", "\\\\#")',
            'value.replace("#", "\\\\#", 1)',
        ),
    },
}


def git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def make_decoy(task_dir: Path, work: Path, from_gold: bool, path: str, old: str, new: str) -> str:
    """A decoy patch made with git: the base (or gold) source with one text replaced."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(task_dir / "repo", work)
    git(work, "init", "-q")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "base")
    if from_gold:
        git(work, "apply", "-", stdin=(task_dir / "gold.patch").read_text())
    target = work / path
    text = target.read_text()
    assert text.count(old) == 1, (path, old)
    target.write_text(text.replace(old, new))
    return git(work, "diff")


def build_task_repo(dst: Path) -> Path:
    """Two example tasks with self-contained examples, decoys and images of their own."""
    shutil.copytree(EXAMPLES, dst, ignore=shutil.ignore_patterns("__pycache__"))
    for task_dir in (dst / "tasks").iterdir():
        if task_dir.name not in PROBLEMS:
            shutil.rmtree(task_dir)
            continue
        (task_dir / "problem_statement.md").write_text(PROBLEMS[task_dir.name])
        meta = yaml.safe_load((task_dir / "task.yaml").read_text())
        meta["image"] = f"swe-search/task:testbed-policy-test__{task_dir.name}"
        (task_dir / "task.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
        (task_dir / "decoys").mkdir()
        for name, spec in DECOYS[task_dir.name].items():
            patch = make_decoy(task_dir, dst / "work", *spec)
            (task_dir / "decoys" / f"{name}.patch").write_text(patch)
    shutil.rmtree(dst / "work")
    return dst


@pytest.fixture(scope="module")
def task_repo(tmp_path_factory) -> Path:
    return build_task_repo(tmp_path_factory.mktemp("testbed") / "tasks")


@pytest.fixture(scope="module")
def tasks(task_repo) -> dict[str, Task]:
    return {t.instance_id: t for t in load_tasks(task_repo)}


# ---------------------------------------------------------------- conversations, as the loop builds them


def start(task: Task) -> list[Message]:
    return scaffold.initial_messages(CONFIG, task.problem_statement, task.workdir, task.instance_id)


@functools.cache
def observation(output: str, exit_code: int) -> str:
    state = scaffold.ShellState("/testbed", None)
    return scaffold.observation_message(CONFIG, Observation(output, exit_code), state)["content"]


def then(messages: list[Message], text: str, output: str = "", exit_code: int = 0) -> list[Message]:
    """`messages` after the reply `text` ran and printed `output`."""
    return [
        *messages,
        {"role": "assistant", "content": text},
        {"role": "user", "content": observation(output, exit_code)},
    ]


FAIL = ('Traceback (most recent call last):\n  File "/tmp/repro.py", line 4\nAssertionError: he...', 1)


def kind_of(policy: TestbedPolicy, text: str) -> str:
    """What a reply is: explore-<i>, reproduce, verify, edit:<name>, undo, submit."""
    a = policy.actions
    names = {t: n for n, t in a.edits.items()}
    if text in names:
        return f"edit:{names[text]}"
    if text in a.explore:
        return f"explore-{a.explore.index(text)}"
    table = {a.reproduce: "reproduce", a.verify: "verify", a.verify_first: "verify", a.undo: "undo"}
    return table.get(text) or ("submit" if text == a.submit else "other")


def frequencies(policy: TestbedPolicy, messages: list[Message], n: int, temperature: float | None = None):
    texts = [c.text for c in policy.sample(messages, n=n, temperature=temperature)]
    return Counter(kind_of(policy, t) for t in texts)


def close(count: int, n: int, p: float) -> bool:
    """`count` of `n` is within 4.5 binomial standard deviations of p (exact at p = 0 or 1)."""
    return abs(count - n * p) <= 4.5 * math.sqrt(n * p * (1 - p)) + 1e-9


def edited(policy: TestbedPolicy, task: Task, name: str = GOLD) -> list[Message]:
    """The conversation right after a first edit, with no exploring or reproducing."""
    return then(start(task), policy.actions.edits[name], "Replaced 1 occurrence in textkit/trunc.py.")


# ---------------------------------------------------------------- the knobs


KNOBS = [
    {},
    {
        "seed": 7,
        "p_right": 0.6,
        "p_explore": 0.3,
        "p_reproduce": 0.9,
        "p_verify": 0.8,
        "p_submit_after_fail": 0.2,
    },
    {"style": "scout"},
    {"style": "scout", "seed": 2, "p_explore": 0.9, "p_verify": 0.95},
]


@pytest.mark.parametrize("knobs", KNOBS, ids=["defaults", "custom", "scout", "scout-custom"])
@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_action_frequencies_match_the_knobs(tasks, knobs, temperature):
    task, n = tasks[TEXTKIT], 3000
    policy = TestbedPolicy(task, **knobs)
    k = policy.knobs

    def p(value: float) -> float:
        return tempered(value, temperature)

    at_start = frequencies(policy, start(task), n, temperature)
    assert close(at_start["explore-0"], n, p(k.p_explore))
    assert close(at_start["reproduce"], n, (1 - p(k.p_explore)) * p(k.p_reproduce))
    assert (
        sum(v for key, v in at_start.items() if key.startswith("edit:"))
        + at_start["explore-0"]
        + at_start["reproduce"]
        == n
    )

    explored = then(start(task), policy.actions.explore[0], "some output")
    for text in policy.actions.explore[1:]:  # once it explores, it goes through every exploring step
        assert frequencies(policy, explored, 50, temperature) == {kind_of(policy, text): 50}
        explored = then(explored, text, "some output")
    after_explore = frequencies(policy, explored, n, temperature)
    assert close(after_explore["reproduce"], n, p(k.p_reproduce))

    reproduced = then(explored, policy.actions.reproduce, *FAIL)
    at_edit = frequencies(policy, reproduced, n, temperature)
    assert close(at_edit[f"edit:{GOLD}"], n, p(k.p_right))
    for decoy in policy.decoys:  # the decoy is drawn uniformly
        assert close(at_edit[f"edit:{decoy}"], n, (1 - p(k.p_right)) / len(policy.decoys))
    assert sum(at_edit.values()) == n

    after_edit = frequencies(policy, edited(policy, task, "boundary-plus"), n, temperature)
    assert close(after_edit["verify"], n, p(k.p_verify))
    assert after_edit["verify"] + after_edit["submit"] == n

    failed = then(edited(policy, task, "boundary-plus"), policy.actions.verify_first, *FAIL)
    after_fail = frequencies(policy, failed, n, temperature)
    assert close(after_fail["submit"], n, p(k.p_submit_after_fail))
    assert after_fail["submit"] + after_fail["undo"] == n

    undone = then(failed, policy.actions.undo, "")
    re_edit = frequencies(policy, undone, n, temperature)
    assert close(re_edit[f"edit:{GOLD}"], n, p(k.p_right))


def test_a_passed_verification_always_submits_and_the_edit_cap_holds(tasks):
    task = tasks[TEXTKIT]
    policy = TestbedPolicy(task, max_edits=2, p_submit_after_fail=0.0)
    a = policy.actions
    passed = then(edited(policy, task), a.verify_first, "")
    assert frequencies(policy, passed, 200) == {"submit": 200}

    once = then(edited(policy, task, "wrong-place"), a.verify_first, *FAIL)
    assert frequencies(policy, once, 200) == {"undo": 200}  # p_submit_after_fail 0: always re-edit
    twice = then(then(then(once, a.undo, ""), a.edits["boundary-minus"], "Replaced"), a.verify, *FAIL)
    assert policy.situation(twice).edits == 2
    assert frequencies(policy, twice, 200) == {"submit": 200}  # max_edits reached: submit the failure


def test_without_an_example_it_never_verifies(tasks, tmp_path):
    source = Path(tasks[TEXTKIT].build_context)
    shutil.copytree(source, tmp_path / "task")
    task = Task(
        instance_id=TEXTKIT,
        problem_statement="truncate is off by one; no example here.",
        image="unused",
        build_context=str(tmp_path / "task"),
    )
    policy = TestbedPolicy(task, p_verify=1.0, p_reproduce=1.0)
    assert policy.actions.reproduce is None
    assert frequencies(policy, edited(policy, task), 100) == {"submit": 100}
    assert analytic_pass_at_1(policy.knobs) > 0


def test_temperature_scales_the_knobs():
    assert tempered(0.3, 1.0) == pytest.approx(0.3)
    assert tempered(0.3, 0.5) == pytest.approx(0.09 / (0.09 + 0.49))
    assert tempered(0.3, 1e6) == pytest.approx(0.5)
    assert tempered(0.3, 0.0) == 0.0 and tempered(0.7, 0.0) == 1.0 and tempered(0.5, 0.0) == 1.0
    assert tempered(0.0, 2.0) == 0.0 and tempered(1.0, 0.1) == 1.0


def test_temperature_zero_is_deterministic(tasks):
    task = tasks[TEXTKIT]
    policy = TestbedPolicy(task)  # p_explore 0.8 -> explore; at the edit, p_right 0.25 -> the first decoy
    assert frequencies(policy, start(task), 50, 0.0) == {"explore-0": 50}
    undone = then(
        then(edited(policy, task, "wrong-place"), policy.actions.verify_first, *FAIL), policy.actions.undo
    )
    assert frequencies(policy, undone, 50, 0.0) == {f"edit:{sorted(policy.decoys)[0]}": 50}


# ---------------------------------------------------------------- the analytic Pass@1


def simulate(policy: TestbedPolicy, task: Task, episodes: int, temperature: float | None) -> float:
    """Pass@1 of `episodes` runs against a model of the environment: the example passes only on gold."""
    a, resolved = policy.actions, 0
    for _ in range(episodes):
        messages, applied = start(task), None
        for _ in range(40):
            text = policy.sample(messages, 1, temperature)[0].text
            kind = kind_of(policy, text)
            output, code = "(output)", 0
            if kind == "submit":
                resolved += applied == GOLD
                break
            if kind.startswith("edit:"):
                applied = kind.split(":", 1)[1]
            elif kind == "undo":
                applied = None
            elif text in (a.reproduce, a.verify, a.verify_first) and applied != GOLD:
                output, code = FAIL
            messages = then(messages, text, output, code)
        else:
            raise AssertionError("the policy did not submit within 40 steps")
    return resolved / episodes


@pytest.mark.parametrize(
    ("knobs", "temperature"),
    [
        ({}, 1.0),
        ({}, 0.9),
        ({"p_right": 0.4, "p_verify": 1.0, "p_submit_after_fail": 0.0, "max_edits": 2}, 1.0),
        ({"style": "scout"}, 1.0),
    ],
)
def test_pass_at_1_of_simulated_runs_matches_the_analytic_expectation(tasks, knobs, temperature):
    task, n = tasks[CONFKIT], 1500
    policy = TestbedPolicy(task, **knobs)
    expected = analytic_pass_at_1(policy.knobs, temperature)
    measured = simulate(policy, task, n, temperature)
    assert abs(measured - expected) <= 4.5 * math.sqrt(expected * (1 - expected) / n), (measured, expected)


def test_the_defaults_give_a_base_pass_at_1_between_15_and_40_percent():
    q = 0.75 * 0.9 * 0.4  # a wrong edit, verified, then not submitted: the run edits again
    assert analytic_pass_at_1(temperature=1.0) == pytest.approx(0.25 * sum(q**i for i in range(6)))
    for t in (0.7, 0.9, 1.0):
        assert 0.15 <= analytic_pass_at_1(temperature=t) <= 0.40
    assert analytic_pass_at_1(temperature=0.9) == pytest.approx(0.315, abs=0.001)


# ---------------------------------------------------------------- right and wrong edits look alike


@pytest.mark.parametrize("style", list(STYLES))
@pytest.mark.parametrize("task_id", [TEXTKIT, CONFKIT])
def test_right_and_wrong_edits_differ_only_in_their_code(tasks, task_id, style):
    policy = TestbedPolicy(tasks[task_id], style=style)
    edits = policy.actions.edits
    assert set(edits) == {GOLD, *DECOYS[task_id]}
    gold = scaffold.parse_action(edits[GOLD])
    for name, text in edits.items():
        action = scaffold.parse_action(text)
        assert action.thought == gold.thought
        assert skeleton(text) == skeleton(edits[GOLD]), name
        for word in ("gold", "decoy", "correct", "wrong", "right", name):
            assert word not in action.thought.lower()
    assert len(set(edits.values())) == len(edits)  # and the code does differ

    sampled = [c.text for c in policy.sample(edited(policy, tasks[task_id])[:2], n=400)]
    drawn = [t for t in sampled if kind_of(policy, t).startswith("edit:")]
    assert {kind_of(policy, t) for t in drawn} == {f"edit:{n}" for n in edits}
    assert {tuple(skeleton(t)) for t in drawn} == {tuple(skeleton(edits[GOLD]))}


# ---------------------------------------------------------------- the second style


def test_the_scout_style_has_its_own_habits_and_defaults(tasks):
    task = tasks[TEXTKIT]
    classic, scout = TestbedPolicy(task), TestbedPolicy(task, style="scout")
    assert scout.knobs == TestbedKnobs(style="scout", **STYLES["scout"].defaults)
    assert scout.knobs.p_verify < classic.knobs.p_verify and scout.knobs.max_edits < classic.knobs.max_edits
    assert TestbedKnobs(style="scout", p_verify=0.7).p_verify == 0.7  # the run config's knobs win
    assert analytic_pass_at_1(scout.knobs) == pytest.approx(0.337, abs=0.001)

    def replies(policy: TestbedPolicy) -> list[str]:
        a = policy.actions
        return [*a.explore, a.reproduce, a.verify, a.verify_first, *a.edits.values(), a.undo, a.submit]

    thoughts = {p: {scaffold.parse_action(t).thought for t in replies(p)} for p in (classic, scout)}
    commands = {p: {scaffold.parse_action(t).command for t in replies(p)} for p in (classic, scout)}
    assert not thoughts[classic] & thoughts[scout]  # phrased differently, every one
    shared = commands[classic] & commands[scout]
    assert shared == {"submit", *(scaffold.parse_action(t).command for t in classic.actions.edits.values())}
    explore = [scaffold.parse_action(t).command for t in scout.actions.explore]
    assert [c.split()[0] for c in explore] == ["ls", "grep", "sed"]  # the shell, not the scaffold's tools
    # it writes its own check script rather than the example
    reproduce = scaffold.parse_action(scout.actions.reproduce).command
    assert "/tmp/check_textkit.py" in reproduce and REPRO_PATH not in reproduce
    assert 'truncate("hello", 5)' not in reproduce.splitlines()  # the example is inside, not run as is


@pytest.mark.parametrize("task_id", [TEXTKIT, CONFKIT])
def test_the_scout_check_prints_one_verdict_line_and_fails_on_every_wrong_edit(tasks, task_id, tmp_path):
    """The scout's check, run by a real Python on the task's code: OK on gold, FAIL with exit 1 on the base
    and on every decoy, never a traceback."""
    task = tasks[task_id]
    folder, library = Path(task.build_context), task_id.split("__")[1].rsplit("-", 1)[0]
    for name in (None, GOLD, *DECOYS[task_id]):
        work = tmp_path / f"{name}"
        shutil.copytree(folder / "repo", work)
        if name:
            patch = folder / ("gold.patch" if name == GOLD else f"decoys/{name}.patch")
            git(work, "apply", str(patch))
        script = scout_check_script(Task(task_id, task.problem_statement, "unused", workdir=str(work)))
        (tmp_path / "check.py").write_text(script)
        run = subprocess.run(["python3", str(tmp_path / "check.py")], capture_output=True, text=True)
        verdict = run.stdout.strip().splitlines()[-1]
        assert "Traceback" not in run.stdout + run.stderr, run.stderr
        if name == GOLD:
            assert (run.returncode, verdict) == (0, f"{library}: OK")
        else:
            assert run.returncode == 1 and verdict.startswith(f"{library}: FAIL ("), (name, verdict)
            assert check_failed(observation(run.stdout, run.returncode))


def test_testbed_colon_style_picks_the_style(tasks):
    policy = policy_factory("testbed:scout", seed=1)(tasks[TEXTKIT])
    assert policy.knobs.style == "scout" and policy.describe()["name"] == "testbed:scout"
    assert policy_factory("testbed", style="scout")(tasks[TEXTKIT]).knobs == policy.knobs.model_copy(
        update={"seed": 0}
    )
    for bad in (("testbed:nosuch", {}), ("testbed:scout", {"style": "classic"})):
        with pytest.raises(TestbedError) as e:
            policy_factory(bad[0], **bad[1])
        assert "\n" not in str(e.value) and ("nosuch" in str(e.value) or "disagree" in str(e.value))


def test_edits_render_each_hunk_as_one_search_replace_block(tasks):
    gold = TestbedPolicy(tasks[CONFKIT]).actions.edits[GOLD]
    command = scaffold.parse_action(gold).command
    assert command.startswith("replace confkit/reader.py <<'EOF'\n")
    assert command.count("<<<<<<< SEARCH") == 3  # reader: one hunk; writer: two
    assert "replace confkit/writer.py <<'EOF'" in command
    changes = parse_patch(Path(tasks[CONFKIT].build_context, "gold.patch").read_text())
    assert [c.path for c in changes] == ["confkit/reader.py", "confkit/writer.py"]


# ---------------------------------------------------------------- reproducibility


def test_same_seed_same_replies_other_seed_other_replies(tasks):
    task = tasks[TEXTKIT]
    one, two, other = TestbedPolicy(task, seed=3), TestbedPolicy(task, seed=3), TestbedPolicy(task, seed=4)
    states = [start(task), edited(one, task), edited(one, task, "wrong-place")]
    for messages in states:
        first = [c.text for c in one.sample(messages, n=40)]
        assert first == [c.text for c in two.sample(messages, n=40)]
    assert [c.text for c in other.sample(start(task), n=40)] != [
        c.text for c in TestbedPolicy(task, seed=3).sample(start(task), n=40)
    ]


def test_the_kth_draw_from_a_state_does_not_depend_on_how_draws_are_batched(tasks):
    task = tasks[CONFKIT]
    batched_policy, single = TestbedPolicy(task), TestbedPolicy(task)
    state = edited(batched_policy, task)  # verify or submit, half and half
    batched = [c.text for c in batched_policy.sample(state, n=20)]
    assert batched == [single.sample(state)[0].text for _ in range(20)]
    assert len(set(batched)) > 1  # later draws from the same state are new draws


def test_usage_is_reported(tasks):
    task = tasks[TEXTKIT]
    messages = start(task)
    completion = TestbedPolicy(task).sample(messages)[0]
    assert completion.usage.prompt_tokens == math.ceil(sum(len(m["content"]) for m in messages) / 4)
    assert (
        completion.usage.completion_tokens == math.ceil(len(completion.text) / 4)
        and completion.usage.cost == 0.0
    )
    scaffold.parse_action(completion.text)  # every reply parses


# ---------------------------------------------------------------- the factory and its errors


def test_factory_builds_the_policy_and_rejects_bad_knobs_in_one_line(tasks):
    factory = policy_factory("testbed", seed=5, p_right=0.3)
    policy = factory(tasks[TEXTKIT])
    assert isinstance(policy, TestbedPolicy) and policy.knobs == TestbedKnobs(seed=5, p_right=0.3)
    for bad, word in (
        ({"p_right": 1.5}, "p_right"),
        ({"p_rigth": 0.3}, "p_rigth"),
        ({"max_edits": 0}, "max_edits"),
    ):
        with pytest.raises(TestbedError) as e:
            policy_factory("testbed", **bad)
        assert word in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(TestbedError, match="base-url"):
        policy_factory("testbed", base_url="http://localhost:1/v1")


def test_run_fails_before_any_container_on_tasks_without_decoys_or_bad_knobs(tmp_path, capsys, task_repo):
    code = main(["run", "--dataset", str(EXAMPLES), "--model", "testbed", "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert code == 2 and "no decoys/*.patch" in err and len(err.strip().splitlines()) == 1
    code = main(
        [
            "run",
            "--dataset",
            str(task_repo),
            "--model",
            "testbed",
            "--out",
            str(tmp_path / "b"),
            "policy.p_verify=2",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "p_verify" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b" / "run.json").exists()


# ---------------------------------------------------------------- real runs, real containers, graded


def changes_of(patch: str) -> list[tuple[str, list[str], list[str]]]:
    """A patch as (file, removed lines, added lines): what it changes, whatever its context."""
    return [
        (
            c.path,
            [line for s, _ in c.blocks for line in s.splitlines()],
            [line for _, r in c.blocks for line in r.splitlines()],
        )
        for c in parse_patch(patch)
    ]


@pytest.mark.slow
@pytest.mark.parametrize(("style", "runs"), [("classic", 8), ("scout", 4)])
def test_swe_search_run_with_the_testbed_policy(tmp_path, task_repo, tasks, style, runs):
    """Both styles' replies run through the real tools in real containers; the scout's own check
    fails on every decoy and passes on gold there too (fewer runs: its replies are what is new)."""
    out, run_id = tmp_path / "run", f"testbed-policy-e2e-{style}"
    args = ["run", "--dataset", str(task_repo), "--model", "testbed", "--out", str(out), "--run-id", run_id]
    args += [
        "--strategy",
        "select",
        "--rule",
        "random",
        "-N",
        str(runs),
        "--concurrency",
        "1",
        "--workers",
        "2",
    ]
    args += ["--no-progress", "--step-limit", "30", "--grade-timeout", "300", "--instance-timeout", "1200"]
    assert main([*args, "policy.seed=1", f"policy.style={style}"]) == 0
    assert not labelled_containers(run_id)

    kinds, outcomes = Counter(), []
    for task_id, task in tasks.items():
        policy = TestbedPolicy(task, style=style)
        answers = {name: changes_of(text) for name, text in _patches(task).items()}
        grades = json.loads((out / "grades" / f"{task_id}.json").read_text())["runs"]
        assert len(grades) == runs
        for g in grades:
            traj = json.loads(
                (out / "trajectories" / task_id / f"run-{g['index']}" / "trajectory.json").read_text()
            )
            messages = traj["messages"]
            applied = None
            for i, m in enumerate(messages):
                if m["role"] != "assistant":
                    continue
                kind = kind_of(policy, m["content"])
                kinds[kind.split(":")[0].split("-")[0]] += 1
                if kind.startswith("edit:"):
                    applied = kind.split(":", 1)[1]
                elif kind == "undo":
                    applied = None
                elif kind == "verify":  # the real example passes on gold, fails on every decoy
                    assert scaffold.parse_action(m["content"])
                    assert (applied == GOLD) != ("(exit code" in messages[i + 1]["content"]), messages[i + 1]
            assert kind == "submit" and traj["exit_status"] == "submitted"
            # the real tools applied the rendered edit exactly: the patch is the last edit's patch
            assert g["status"] in ("resolved", "unresolved"), g
            assert changes_of(g["patch"]) == answers[applied]
            assert g["resolved"] == (applied == GOLD)
            outcomes.append(g["resolved"])

    assert {"explore", "reproduce", "edit", "verify", "submit"} <= set(kinds)
    # The rate is a smoke check only: with 16 runs, 3.5 standard errors around the analytic 0.315 (classic) span
    # 1 to 11 resolved runs, so it fails only on a policy or grading gone badly wrong (none or nearly
    # all resolved). The analytic Pass@1 itself is checked against 1500 runs per setting in
    # test_pass_at_1_of_simulated_runs_matches_the_analytic_expectation; what these real runs add is
    # that the simulation's model of the environment holds (asserted per run above: the example
    # passes after gold and fails after every decoy, and a run resolves iff its last edit is gold).
    assert any(outcomes) and not all(outcomes)
    expected = analytic_pass_at_1(TestbedKnobs(style=style), temperature=0.9)  # select samples at T=0.9
    measured = sum(outcomes) / len(outcomes)
    assert abs(measured - expected) <= 3.5 * math.sqrt(expected * (1 - expected) / len(outcomes)), measured
    print(
        f"testbed policy ({style}, smoke): Pass@1 {measured:.3f} over {len(outcomes)} runs "
        f"(analytic {expected:.3f})"
    )


def _patches(task: Task) -> dict[str, str]:
    folder = Path(task.build_context)
    return {
        GOLD: (folder / "gold.patch").read_text(),
        **{p.stem: p.read_text() for p in (folder / "decoys").glob("*.patch")},
    }
