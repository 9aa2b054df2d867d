"""ExperimentConfig (YAML < flags < overrides, checks) and the train / held-out split rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.configfile import ConfigError
from envs.tasks import load_tasks
from eval.cli import build_parser
from eval.experiment.config import ExperimentConfig, SplitRule
from eval.experiment.layout import rescore_dir
from eval.experiment.phases import (
    ExperimentError,
    collect_config,
    deal_folds,
    fold_splits,
    library_of,
    link_runs,
    other_critics,
    pool_config,
    resolve_splits,
    split_tasks,
    train_config,
)
from eval.experiment.render import policy_label

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tasks"
IDS = [
    "swe-search__confkit-1",
    "swe-search__confkit-2",
    "swe-search__textkit-1",
    "swe-search__textkit-2",
    "swe-search__unitkit-1",
]


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(EXAMPLES)


def test_default_yaml_composes_the_run_section_over_run_yaml():
    cfg = ExperimentConfig.load()
    assert cfg.run.agent.templates.system  # agent.yaml, through run.yaml
    assert cfg.run.search.tie_break == "first"  # strategies.yaml, through run.yaml
    assert cfg.critic.model == "tiny" and cfg.critic.lr > 1e-4  # tiny-critic settings, not the 70B ones
    assert cfg.split is not None and cfg.dataset == "examples/testbed" and cfg.run.model == "testbed"


def test_overrides_win_over_flags_which_win_over_the_file(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(
        f"extends: {REPO / 'configs' / 'experiment.yaml'}\ncollect: {{m: 3}}\nrun: {{workers: 1}}\n"
    )
    cfg = ExperimentConfig.load(path)
    assert (cfg.collect.m, cfg.run.workers) == (3, 1)
    cfg = ExperimentConfig.load(path, flags={"collect.m": 5, "run.workers": 4}, overrides=["collect.m=7"])
    assert (cfg.collect.m, cfg.run.workers, cfg.run.agent.templates.system != "") == (7, 4, True)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["evaluate.n=9", "evaluate.repeats=4"], "must not exceed"),
        (["train_dataset=examples/tasks"], "give both"),
        (["train_dataset=a", "eval_dataset=b"], "replace `dataset`"),
        (["split=null"], "with a `split`"),
        (["run.dataset=verified"], "run.dataset is set by the experiment"),
        (["run.critic=tiny"], "run.critic is set by the experiment"),
        (["critic.out_dir=x"], "critic.out_dir"),
        (["seeds=[1, 1]"], "distinct"),
        (["nonsense=1"], "nonsense"),
        (["split={kind: regex}"], "needs `train`"),
        (["split={kind: folds}"], "needs `k`"),
        (["split={kind: folds, k: 1}"], "greater than or equal to 2"),
        (["split={kind: folds, k: 2, train: [calc]}"], "no train/heldout"),
        (["split={kind: folds, k: 2}", "eval_select.filter=calc"], "leave eval_select empty"),
        (["collect.m"], "key.path=value"),
        (["critics=[learnt]"], "neither `learned` nor a judge"),
        (["critics=[learned, learned]"], "distinct"),
        (["critics=[]"], "critics"),
    ],
)
def test_bad_settings_are_one_clear_config_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        ExperimentConfig.load(overrides=overrides)


def test_the_library_is_between_the_double_underscore_and_the_last_dash():
    assert library_of("testbed__intervals-3") == "intervals"
    assert library_of("testbed__two-part-12") == "two-part"


def test_regex_split_and_the_rest_as_heldout(tasks):
    train, held = split_tasks(tasks, SplitRule(kind="regex", train="confkit|textkit"), str(EXAMPLES))
    assert train == IDS[:4] and held == ["swe-search__unitkit-1"]


def test_ids_split_takes_exactly_the_listed_tasks(tasks):
    rule = SplitRule(kind="ids", train=[IDS[0]], heldout=[IDS[4], IDS[2]])
    assert split_tasks(tasks, rule, str(EXAMPLES)) == ([IDS[0]], [IDS[2], IDS[4]])
    with pytest.raises(ExperimentError, match="not in"):
        split_tasks(tasks, SplitRule(kind="ids", train=["nope"]), str(EXAMPLES))


def test_field_split_reads_an_instance_field(tasks):
    repos = sorted({t.instance["repo"] for t in tasks})
    rule = SplitRule(kind="field", field="repo", train=[repos[0]])
    train, held = split_tasks(tasks, rule, str(EXAMPLES))
    assert train and held and not set(train) & set(held)
    assert {t.instance["repo"] for t in tasks if t.instance_id in train} == {repos[0]}


def test_file_split_names_libraries(tasks, tmp_path):
    split = tmp_path / "split.yaml"
    split.write_text("train: [confkit, unitkit]\nheldout: [textkit]\n")
    rule = SplitRule.model_validate(str(split))  # the `split: split.yaml` shorthand
    assert rule.kind == "file"
    train, held = split_tasks(tasks, rule, str(EXAMPLES))
    assert train == [IDS[0], IDS[1], IDS[4]] and held == [IDS[2], IDS[3]]
    split.write_text("train: [confkit]\nheldout: [confkit]\n")
    with pytest.raises(ExperimentError, match="both splits"):
        split_tasks(tasks, rule, str(EXAMPLES))
    with pytest.raises(ExperimentError, match="not found"):
        split_tasks(tasks, SplitRule.model_validate("split.yaml"), str(EXAMPLES))


def test_overlapping_regexes_are_refused(tasks):
    with pytest.raises(ExperimentError, match="both splits"):
        split_tasks(tasks, SplitRule(kind="regex", train="kit", heldout="unitkit"), str(EXAMPLES))


def test_two_datasets_with_selections(tmp_path):
    cfg = ExperimentConfig.load(
        overrides=[
            "dataset=null",
            "split=null",
            f"train_dataset={EXAMPLES}",
            f"eval_dataset={EXAMPLES}",
            "train_select.filter=confkit",
            "eval_select.instances=[swe-search__unitkit-1]",
        ]
    )
    splits = resolve_splits(cfg)
    assert splits.train == IDS[:2] and splits.heldout == [IDS[4]]
    overlapping = cfg.model_copy(update={"eval_select": cfg.train_select})
    with pytest.raises(ExperimentError, match="share tasks"):
        resolve_splits(overlapping)


def test_an_empty_split_is_refused():
    cfg = ExperimentConfig.load(
        overrides=[f"dataset={EXAMPLES}", "split={kind: regex, train: confkit, heldout: nothing-matches}"]
    )
    with pytest.raises(ExperimentError, match="held-out split is empty"):
        resolve_splits(cfg)


def test_each_phase_gets_its_strategy_tasks_seed_and_critic(tmp_path):
    cfg = ExperimentConfig.load(overrides=[f"out={tmp_path}", "seeds=[3]", "run.policy={p_right: 0.3}"])
    splits = resolve_splits(cfg)
    col = collect_config(cfg, splits, 3)
    assert (col.search.strategy, col.search.n, col.search.rule, col.critic) == (
        "select",
        cfg.collect.m,
        "random",
        None,
    )
    assert col.instances == splits.train and col.policy == {"p_right": 0.3, "seed": 3}
    assert col.search.concurrency == 1 and col.search.seed == 3 and col.out == tmp_path / "seed-3" / "collect"
    base, look, const = (pool_config(cfg, splits, 3, p) for p in ("base", "lookahead", "const"))
    assert base.instances == look.instances == const.instances == splits.heldout
    assert (base.search.strategy, look.search.strategy, const.search.strategy) == (
        "select",
        "lookahead+select",
        "lookahead+select",
    )
    assert base.critic == look.critic == str(tmp_path.resolve() / "seed-3" / "train" / "critic")
    assert const.critic == "const:0.5" and const.search.tie_break == "first"
    assert look.search.k == const.search.k == cfg.evaluate.k and base.search.n == cfg.evaluate.repeats
    tc = train_config(cfg, 3)
    assert tc.data == [str(tmp_path.resolve() / "seed-3" / "collect")] and tc.seed == 3
    assert tc.model == str(tmp_path.resolve() / "seed-3" / "train" / "init")


def test_judges_get_their_own_lookahead_pool_and_without_learned_run_base_themselves(tmp_path):
    judge, other = "judge:gpt-4o-mini", "judge:m@http://127.0.0.1:9/v1"
    cfg = ExperimentConfig.load(overrides=[f"out={tmp_path}", f"critics=[learned, '{judge}']"])
    splits = resolve_splits(cfg)
    assert cfg.learned and other_critics(cfg) == [judge]
    look = pool_config(cfg, splits, 0, "lookahead", judge)
    assert look.critic == judge and look.out.name.startswith("lookahead-judge-gpt-4o-mini-")
    assert pool_config(cfg, splits, 0, "base").critic.endswith("critic")  # the learned critic's
    only = ExperimentConfig.load(overrides=[f"out={tmp_path}", f"critics=['{other}', '{judge}']"])
    assert not only.learned and other_critics(only) == [judge]
    base, look = (pool_config(only, splits, 0, p) for p in ("base", "lookahead"))
    assert base.critic == look.critic == other and look.out.name == "lookahead"
    assert "127.0.0.1" not in str(pool_config(only, splits, 0, "lookahead", judge).out)


def test_the_command_is_registered_with_its_help():
    parser = build_parser()
    args = parser.parse_args(["experiment", "-c", "x.yaml", "--seeds", "0,1", "--model", "m", "collect.m=2"])
    assert (args.seeds, args.model, args.overrides) == ([0, 1], "m", ["collect.m=2"])
    with pytest.raises(SystemExit):
        parser.parse_args(["experiment", "--seeds", "a,b"])


def test_the_tiny_tokenizer_corpus_is_the_collected_runs_messages(tmp_path):
    """`tiny.corpus`: the tokenizer learns the words of the train split's runs (collect/ only)."""
    import json

    from eval.experiment.phases import _corpus

    run = tmp_path / "collect"
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "issue"}]
    messages += [{"role": "assistant", "content": "submit"}, {"role": "user", "content": "(exit code 1)"}]
    (run / "trajectories" / "t-1" / "run-0").mkdir(parents=True)
    (run / "trajectories" / "t-1" / "run-0" / "trajectory.json").write_text(
        json.dumps({"messages": messages})
    )
    (run / "grades").mkdir()
    (run / "grades" / "t-1.run-0.json").write_text(json.dumps({"instance_id": "t-1", "resolved": False}))
    assert _corpus(run) == ["sys", "issue", "submit", "(exit code 1)"]
    cfg = ExperimentConfig.load()
    assert cfg.tiny.corpus and cfg.tiny.vocab_size == 4096 and cfg.critic.compression is not None


# ---------------------------------------------------------------- folds and the cross-policy cell


def test_folds_deal_the_largest_groups_first_to_the_emptiest_fold():
    groups = {"a": ["a1"], "b": ["b1", "b2", "b3"], "c": ["c1", "c2"], "d": ["d1", "d2"], "e": ["e1"]}
    assert deal_folds(groups, 2) == [["a", "b", "e"], ["c", "d"]]  # b, c, d, then a and e: 5 tasks and 4
    assert deal_folds(groups, 5) == [["b"], ["c"], ["d"], ["a"], ["e"]]
    with pytest.raises(ExperimentError, match="only 5 group"):
        deal_folds(groups, 6)


def test_folds_of_the_testbed_are_its_libraries_and_a_field_works_too(tasks):
    cfg = ExperimentConfig.load(overrides=["split={kind: folds, k: 3}"])
    splits = resolve_splits(cfg)
    assert len(splits.train) == len(splits.heldout) == 30 and splits.train == splits.heldout
    libraries = [set(f.groups) for f in splits.folds]
    assert [len(g) for g in libraries] == [2, 2, 2] and len(set().union(*libraries)) == 6
    assert sorted(i for f in splits.folds for i in f.heldout) == splits.train  # each held out once
    for fold in splits.folds:
        assert {library_of(i) for i in fold.heldout} == set(fold.groups)
        assert sorted(fold.train + fold.heldout) == splits.train
    by_repo = fold_splits(tasks, SplitRule(kind="folds", by="repo", k=2), str(EXAMPLES))
    repos = {t.instance_id: t.instance["repo"] for t in tasks}
    for fold in by_repo.folds:
        assert {repos[i] for i in fold.heldout} == set(fold.groups)
    with pytest.raises(ExperimentError, match="no field 'nope'"):
        fold_splits(tasks, SplitRule(kind="folds", by="nope", k=2), str(EXAMPLES))


def test_each_fold_trains_on_a_view_of_the_other_folds_runs_and_evaluates_its_own(tmp_path):
    cfg = ExperimentConfig.load(overrides=[f"out={tmp_path}", "split={kind: folds, k: 3}"])
    splits = resolve_splits(cfg)
    assert collect_config(cfg, splits, 0).instances == splits.train  # every task, collected once
    for i, fold in enumerate(splits.folds):
        tc = train_config(cfg, 0, i)
        assert tc.data == [str(tmp_path.resolve() / "seed-0" / f"fold-{i}" / "train" / "data")]
        base = pool_config(cfg, splits.fold(i), 0, "base", fold=i)
        assert (
            base.instances == fold.heldout
            and base.out == tmp_path / "seed-0" / f"fold-{i}" / "evaluate" / "base"
        )
        assert base.critic == str(tmp_path.resolve() / "seed-0" / f"fold-{i}" / "train" / "critic")
    collect = tmp_path / "collect"
    for iid in ("t__a-1", "t__a-10", "t__b-1"):
        (collect / "trajectories" / iid / "run-0").mkdir(parents=True)
        (collect / "trajectories" / iid / "run-0" / "trajectory.json").write_text("{}")
        (collect / "grades").mkdir(exist_ok=True)
        (collect / "grades" / f"{iid}.run-0.json").write_text("{}")
    link_runs(collect, ["t__a-1", "t__b-1"], tmp_path / "view")
    assert sorted(p.name for p in (tmp_path / "view" / "trajectories").iterdir()) == ["t__a-1", "t__b-1"]
    assert sorted(p.name for p in (tmp_path / "view" / "grades").iterdir()) == [
        "t__a-1.run-0.json",
        "t__b-1.run-0.json",
    ]
    assert (tmp_path / "view" / "grades" / "t__a-1.run-0.json").stat().st_ino == (
        collect / "grades" / "t__a-1.run-0.json"
    ).stat().st_ino


def test_a_judge_in_folds_runs_and_rescores_in_each_folds_own_folder(tmp_path):
    judge = "judge:gpt-4o-mini"
    folds = [f"out={tmp_path}", "split={kind: folds, k: 3}"]
    cfg = ExperimentConfig.load(overrides=[*folds, f"critics=[learned, '{judge}']"])
    only = ExperimentConfig.load(overrides=[*folds, f"critics=['{judge}']"])
    splits = resolve_splits(cfg)
    for i, fold in enumerate(splits.folds):
        evaluate = tmp_path / "seed-0" / f"fold-{i}" / "evaluate"
        look = pool_config(cfg, splits.fold(i), 0, "lookahead", judge, fold=i)
        assert look.critic == judge and look.instances == fold.heldout and look.out.parent == evaluate
        assert (
            look.out.name.startswith("lookahead-judge-")
            and rescore_dir(tmp_path, 0, judge, i).parent == evaluate
        )
        base = pool_config(only, splits.fold(i), 0, "base", fold=i)  # judges only: the judge runs base
        assert base.critic == judge and base.out == evaluate / "base"


def test_the_pools_may_run_another_policy_than_the_collected_one(tmp_path):
    cfg = ExperimentConfig.load(
        overrides=[f"out={tmp_path}", "run.policy={p_right: 0.3}", "evaluate.model=testbed:scout"]
    )
    splits = resolve_splits(cfg)
    col = collect_config(cfg, splits, 1)
    assert (col.model, col.policy) == ("testbed", {"p_right": 0.3, "seed": 1})
    for pool in ("base", "lookahead", "const"):
        rc = pool_config(cfg, splits, 1, pool)
        assert (rc.model, rc.policy) == ("testbed:scout", {"p_right": 0.3, "seed": 1})
    knobs = ExperimentConfig.load(overrides=["evaluate.policy={style: scout, p_verify: 0.7}"])
    rc = pool_config(knobs, resolve_splits(knobs), 0, "base")
    assert rc.model == "testbed" and rc.policy == {"style": "scout", "p_verify": 0.7, "seed": 0}
    assert knobs.evaluate.cross_policy and not ExperimentConfig.load().evaluate.cross_policy
    from eval.experiment.report import _evaluate_policy

    report = {"policy": "testbed", "evaluate_policy": _evaluate_policy(knobs)}
    assert policy_label(report) == "testbed -> testbed (p_verify=0.7, style=scout)"
    assert policy_label({"policy": "testbed", "evaluate_policy": None}) == "testbed"


def test_a_judge_url_with_credentials_is_scrubbed_from_phase_markers_and_still_resumes(tmp_path):
    """A judge spec names plan keys (`lookahead-<spec>`) and values: both are written scrubbed, and a
    rerun compares plans in that form, so the phase still reads as complete."""
    from eval.experiment.phases import Experiment, check_plan
    from tests.helpers.openai_server import OpenAIServer, judge_rule

    secret, query = "pw-judge-0123456789", "qk-judge-0123456789"
    with OpenAIServer(default=judge_rule({"submit": 0.6}, default=0.4)) as server:
        url = server.url.replace("http://", f"http://user:{secret}@") + f"?api_key={query}"
        cfg = ExperimentConfig.load(overrides=[f"out={tmp_path}", f"critics=[learned, 'judge:m@{url}']"])
        experiment = Experiment(cfg, progress=False)
        folder, plan = tmp_path / "seed-0" / "evaluate", experiment._evaluate_plan(0)
        assert experiment.phase(folder, 0, plan, lambda: True)
    written = (folder / "phase.json").read_text() + (folder / "complete.json").read_text()
    assert "lookahead-judge:m@http://***@127.0.0.1:" in written and "/v1?api_key=***" in written
    assert secret not in written and query not in written
    assert check_plan(folder, experiment._evaluate_plan(0)) == "complete"


def test_critic_model_smollm2_trains_from_its_init_folder_with_lora(tmp_path):
    from critic.config import LoraSettings

    cfg = ExperimentConfig.load(overrides=[f"out={tmp_path}", "critic.model=smollm2"])
    tc = train_config(cfg, 0)
    assert tc.model == str(tmp_path.resolve() / "seed-0" / "train" / "init")  # written by critic.backbones
    assert tc.lora == LoraSettings()  # `lora: auto` follows the backbone's name, not the folder's
    tiny = train_config(ExperimentConfig.load(overrides=[f"out={tmp_path}"]), 0)
    assert tiny.lora is None and tiny.model == tc.model
