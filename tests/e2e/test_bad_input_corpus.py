"""Every CLI entry point under a generated corpus of bad input (issue 26.4): flags and overrides,
task.yaml fields, and run-folder files. None may print a traceback or let an exception escape;
each answers with an exit code and, for a refusal, lines that say what is wrong.

The CLI runs in-process (`eval.cli.main`), seeded, so a failure names its case and repeats. Each case
is built to stop in pre-flight (a policy endpoint that does not answer, no API key, a critic
checkpoint that does not exist), so no container starts and no model trains or serves.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from eval.cli import build_parser, main

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tasks"
TASK = "swe-search__textkit-1"
SEED = 26
DEAD_MODEL = ["--model", "gpt-4o", "--base-url", "http://127.0.0.1:9/v1"]  # port 9: nothing answers
BAD_VALUES = [
    "", "-1", "0", "1e309", "nan", "-0.5", "x" * 5000, "../../../etc/passwd", "/no/such/path", "a\x00b",
    "\u202e\u0301", "ünï cödé", "{}", "[1, 2]", ":::", "0:0:0", "(", "1/0", "9/2", "~nobody/x", " ",
    "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"), "-" * 3, "=", "%s%n",
]  # fmt: skip
OVERRIDES = [
    "agent.step_limit=-5", "container.disk_limit=lots", "container.mem_limit=1", "search.k=1e309",
    "nosuch.key=1", "=", "a=b=c", "search.strategy=nosuch", "policy.temperature=[1", "workers=0",
    "container.cpus=0", "agent=3", "search=null", "instance_timeout=-1", "out=",
]  # fmt: skip
TASK_FIELDS = {
    "instance_id": [None, 7, "", "a/b", "..", "x" * 300, ["list"], {"a": 1}],
    "base_commit": [None, 0, "", "not-a-sha", ["x"]],
    "image": [None, 5, "", "UPPER/Case:tag", "x" * 300],
    "log_parser": [None, 1, "", "nosuch", ["parse_log_pytest"]],
    "eval_type": [None, "", "nosuch", 3],
    "FAIL_TO_PASS": [None, "", "not json", 5, {"a": 1}],
    "repo": [None, 3, ["x"]],
    "version": [None, 1.0, ["x"]],
}
"""task.yaml fields and bad values for them (None: the field deleted)."""


def subcommands() -> dict[str, list[str]]:
    """Every CLI entry point, by the words that name it, and its optional flags that take a value."""
    found: dict[str, list[str]] = {}

    def walk(parser, words: list[str]) -> None:
        subs = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        if not subs:
            found[" ".join(words)] = [
                a.option_strings[-1]
                for a in parser._actions
                if a.option_strings and a.nargs != 0 and a.dest != "help"
            ]
            return
        for name, sub in subs[0].choices.items():
            walk(sub, [*words, name])

    walk(build_parser(), [])
    return found


def skeletons(tmp: Path, repo: Path, preds: Path, folder: Path) -> dict[str, list[str]]:
    """Per entry point, arguments that stop in pre-flight whatever one flag is changed to."""
    out = str(tmp / "out")
    return {
        "run": ["run", "--dataset", str(repo), *DEAD_MODEL, "--out", out, "--no-build", "--no-progress"],
        "eval": ["eval", "--predictions", str(preds), "--dataset", str(repo), "--out", out, "--no-progress"],
        "report": ["report", str(folder)],
        "experiment": ["experiment", *DEAD_MODEL, "--out", out, "--no-progress"],
        "images build": ["images", "build", str(repo)],
        "tasks new": ["tasks", "new", "--repo", str(tmp / "no-repo"), "--commit", "HEAD", "--out", out],
        "critic train": ["critic", "train", "--model", str(tmp / "no-model"), "--data", str(folder), "--out", out],
        "critic serve": ["critic", "serve", "--checkpoint", str(tmp / "no-checkpoint"), "--port", "0"],
        # a folder that is not there: refused before anything is served, whatever the flags say
        "inspect": ["inspect", str(tmp / "no-run"), "--export", str(tmp / "site")],
    }  # fmt: skip


NOT_RUN = {
    "images base": "builds a base image with debootstrap when its flags are good",
    "envs cleanup": "removes containers of the shared Docker daemon",
    "envs engine": "installs and starts Docker",
}


def with_flag(args: list[str], flag: str, value: str) -> list[str]:
    """`args` with `flag` set to `value` (replacing the skeleton's own value of it, if any)."""
    if flag in args:
        i = args.index(flag)
        return [*args[: i + 1], value, *args[i + 2 :]]
    return [*args, flag, value]


def answer_problem(args: list[str], capsys: pytest.CaptureFixture[str]) -> str | None:
    """What is wrong with how the command ended, or None: it must end with an exit code, let nothing
    escape, print no traceback, and say why when it refuses."""
    try:
        code = main(args)
    except SystemExit as e:  # argparse's own refusal of a flag (exit 2 with usage)
        code = e.code if isinstance(e.code, int) else 2
    except Exception as e:  # noqa: BLE001 - what escaped is the finding
        import traceback

        where = traceback.extract_tb(e.__traceback__)[-1]
        capsys.readouterr()
        return f"{_short(args)}: {type(e).__name__}: {_short([str(e)])} at {where.filename}:{where.lineno}"
    captured = capsys.readouterr()
    text = captured.out + captured.err
    if "Traceback" in text:
        return f"{_short(args)}: printed a traceback: {text[-300:]!r}"
    if code not in (0, 1, 2, 3):
        return f"{_short(args)}: exit code {code}"
    if code and not captured.err.strip():
        return f"{_short(args)}: exit {code} without a word on stderr"
    return None


def _short(args: list[str]) -> str:
    return repr([a if len(a) < 60 else a[:30] + f"...({len(a)})" for a in args])[:400]


def check(cases: list[list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    problems = [p for args in cases if (p := answer_problem(args, capsys))]
    assert not problems, f"{len(problems)} of {len(cases)}:\n" + "\n".join(problems[:15])


@pytest.fixture(autouse=True)
def _in_scratch_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative paths among the bad values (`1/0`, ` `) land in a scratch folder, not the checkout."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    tmp = tmp_path_factory.mktemp("corpus")
    repo = tmp / "tasks-copy"
    (repo / "tasks").mkdir(parents=True)
    shutil.copy(EXAMPLES / "sweb.yaml", repo / "sweb.yaml")
    shutil.copytree(EXAMPLES / "tasks" / TASK, repo / "tasks" / TASK)
    # its own image tag, and a Dockerfile docker refuses at once: `images build` never builds a shared image
    meta = yaml.safe_load((repo / "tasks" / TASK / "task.yaml").read_text())
    (repo / "tasks" / TASK / "task.yaml").write_text(
        yaml.safe_dump({**meta, "image": "swe-search/corpus:bad-input"})
    )
    (repo / "tasks" / TASK / "Dockerfile").write_text("NOT-AN-INSTRUCTION x\n")
    preds = tmp / "preds.jsonl"  # for no task of the dataset: `eval` stops before grading
    preds.write_text(
        json.dumps({"instance_id": "nosuch__1", "model_patch": "", "model_name_or_path": "m"}) + "\n"
    )
    folder = damaged_run_folder(tmp / "run-folder", random.Random(SEED), 0)
    yield {"tmp": tmp, "repo": repo, "preds": preds, "folder": folder}


def damaged_run_folder(folder: Path, rng: random.Random, case: int) -> Path:
    """A run folder whose files are each good, missing or damaged in a way drawn from `rng`."""
    shutil.rmtree(folder, ignore_errors=True)
    record = {"schema_version": 2, "instance_id": "a__1", "status": "ok", "exit_status": "submitted",
              "grade_status": "resolved", "resolved": True, "chosen": 0,
              "runs": [{"index": 0, "trajectory": "trajectories/a__1/trajectory.json", "resolved": True}]}  # fmt: skip
    files = {
        "instances/a__1/done.json": json.dumps(record, indent=1),
        "trajectories/a__1/trajectory.json": json.dumps(
            {"schema_version": 1, "instance_id": "a__1", "steps": []}
        ),
        "grades/a__1.json": json.dumps({"instance_id": "a__1", "resolved": True}),
        "config.yaml": yaml.safe_dump({"model": "m", "search": {"strategy": "greedy"}}),
        "run.json": json.dumps({"run_id": "corpus"}),
        "preds.jsonl": json.dumps({"instance_id": "a__1", "model_patch": ""}) + "\n",
    }
    damages = [
        lambda t: t[: len(t) // 2],  # truncated mid-write
        lambda t: "",
        lambda t: "\x00\xff garbage",
        lambda t: "[]",
        lambda t: "null",
        lambda t: json.dumps({"instance_id": "../../escape", "status": 7, "runs": "x"}),
        lambda t: t.replace('"a__1"', '"b__2"'),
        lambda t: t.replace("trajectories/a__1", "../../../etc"),
        lambda t: "- a\n- [b\n",
        lambda t: t + "\n" + t,
    ]
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        choice = rng.randrange(len(damages) + 3)
        if choice == len(damages):
            continue  # missing
        path.write_text(text if choice > len(damages) else damages[choice](text), errors="surrogateescape")
    if case % 7 == 3:  # a folder where a file should be
        shutil.rmtree(folder / "instances" / "a__1", ignore_errors=True)
        (folder / "instances" / "a__1" / "done.json").mkdir(parents=True)
    return folder


def test_every_entry_point_answers_bad_flags_and_overrides_without_a_traceback(corpus, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    commands = subcommands()
    assert set(commands) == set(
        skeletons(**dict.fromkeys(("tmp", "repo", "preds", "folder"), Path(".")))
    ) | set(NOT_RUN)
    rng = random.Random(SEED)
    base = skeletons(corpus["tmp"], corpus["repo"], corpus["preds"], corpus["folder"])
    cases = []
    for name, args in base.items():
        for flag in commands[name]:
            if name in ("run", "experiment") and flag in ("--model", "--base-url"):
                continue  # the dead endpoint is what keeps these from starting
            cases += [with_flag(args, flag, value) for value in rng.sample(BAD_VALUES, 1)]
        if name in ("run", "experiment", "critic train", "critic serve"):
            cases += [[*args, override] for override in rng.sample(OVERRIDES, 3)]
        cases.append([*args, "--no-such-flag"])
    check(cases, capsys)


def test_bad_task_yaml_fields_are_refused_in_one_line(corpus, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    rng = random.Random(SEED)
    path = corpus["repo"] / "tasks" / TASK / "task.yaml"
    good = path.read_text()
    base = skeletons(corpus["tmp"], corpus["repo"], corpus["preds"], corpus["folder"])
    problems = []
    try:
        for field, values in TASK_FIELDS.items():
            for value in values:
                meta = yaml.safe_load(good)
                if value is None:
                    meta.pop(field, None)
                else:
                    meta[field] = value
                path.write_text(yaml.safe_dump(meta))
                for name in rng.sample(["run", "eval", "images build"], 1):
                    problems.append(answer_problem(base[name], capsys))
        for text in ("", "- a list\n", "key: [unclosed\n", "\x00\x01", "a: !!python/object:os.system x\n"):
            path.write_text(text)
            problems.append(answer_problem(base["run"], capsys))
    finally:
        path.write_text(good)
    found = [p for p in problems if p]
    assert not found, "\n".join(found[:15])


def test_damaged_run_folders_are_reported_and_refused_without_a_traceback(corpus, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    rng = random.Random(SEED)
    tmp = corpus["tmp"]
    problems = []
    for case in range(20):
        folder = damaged_run_folder(tmp / "damaged", rng, case)
        for args in (
            ["report", str(folder)],
            ["run", "--dataset", str(corpus["repo"]), *DEAD_MODEL, "--out", str(folder), "--no-build", "--no-progress"],
            ["eval", "--predictions", str(folder / "preds.jsonl"), "--dataset", str(corpus["repo"]),
             "--out", str(tmp / "eval-out"), "--no-progress"],
            ["inspect", str(folder), "--export", str(tmp / f"site-{case}")],
        ):  # fmt: skip
            problems.append(answer_problem(args, capsys))
    found = [p for p in problems if p]
    assert not found, "\n".join(found[:15])
