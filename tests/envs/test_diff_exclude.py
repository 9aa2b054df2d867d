"""diff() leaves byte-code and tool caches out of the patch, and keeps every change to real files."""

from __future__ import annotations

from envs.docker import DockerEnv
from envs.patches import DIFF_EXCLUDE, exclude_pathspecs
from envs.types import Task
from eval.batch.config import RunConfig

# caches as tools write them, even with PYTHONDONTWRITEBYTECODE unset
MAKE_CACHES = (
    "mkdir -p pkg && echo 'X = 1' > pkg/__init__.py && echo 'import pkg' > use_pkg.py"
    " && PYTHONDONTWRITEBYTECODE= python3 -c 'import use_pkg, hello'"
    " && mkdir -p .pytest_cache/v/cache && echo '{}' > .pytest_cache/v/cache/lastfailed"
    " && mkdir -p demo.egg-info && echo 'Name: demo' > demo.egg-info/PKG-INFO"
    " && ls __pycache__ pkg/__pycache__"
)


def test_caches_are_left_out_and_every_real_change_is_kept(
    env: DockerEnv, tiny_task: Task, run_id: str
) -> None:
    made = env.execute(MAKE_CACHES + " && echo \"print('bonjour')\" > hello.py && rm to_delete.txt")
    assert made.exit_code == 0 and ".pyc" in made.output, made.output
    patch = env.diff()
    for real in ("pkg/__init__.py", "use_pkg.py", "+print('bonjour')", "deleted file mode"):
        assert real in patch
    for cache in ("__pycache__", ".pyc", ".pytest_cache", "egg-info"):
        assert cache not in patch
    # the patch alone reproduces the real files on a fresh container
    with DockerEnv(tiny_task, run_id=run_id) as fresh:
        fresh.write_file("/tmp/agent.patch", patch.encode())
        assert fresh.execute("git apply /tmp/agent.patch").exit_code == 0
        assert (
            fresh.execute("cat pkg/__init__.py use_pkg.py hello.py").output
            == "X = 1\nimport pkg\nprint('bonjour')\n"
        )


def test_the_agents_shell_writes_no_byte_code(env: DockerEnv) -> None:
    env.execute("echo 'import hello' > use.py && python3 use.py && python3 -m pytest -q use.py")
    assert env.execute("find . -name '*.pyc' -o -name __pycache__").output == ""


def test_exclude_list_is_configurable_and_never_drops_tracked_files(tiny_task: Task, run_id: str) -> None:
    with DockerEnv(tiny_task, run_id=run_id, diff_exclude=["*.txt", "/build/"]) as env:
        env.execute("echo changed >> old_name.txt && echo new > notes.txt && mkdir -p build sub")
        env.execute("echo out > build/out.bin && echo kept > sub/build && echo deep > sub/notes.txt")
        patch = env.diff()
        assert "old_name.txt" in patch and "+changed" in patch  # tracked at the base commit: kept
        assert "notes.txt" not in patch and "build/out.bin" not in patch
        assert "sub/build" in patch  # `/build/` is anchored at the root, and a folder
    with DockerEnv(tiny_task, run_id=run_id, diff_exclude=[]) as env:
        env.execute("mkdir -p __pycache__ && echo x > __pycache__/m.pyc")
        assert "__pycache__/m.pyc" in env.diff()


def test_patterns_become_glob_pathspecs_for_files_and_folders() -> None:
    assert exclude_pathspecs(["*.pyc", "/build/", "a/b", "", "# comment"]) == [
        ":(glob)**/*.pyc",
        ":(glob)**/*.pyc/**",
        ":(glob)build/**",
        ":(glob)a/b",
        ":(glob)a/b/**",
    ]


def test_run_config_carries_the_exclude_list_to_the_containers() -> None:
    assert RunConfig().container.diff_exclude == list(DIFF_EXCLUDE)
    config = RunConfig.load(None, {}, ["container.diff_exclude=['*.log']"])
    assert config.container.diff_exclude == ["*.log"]
    assert "diff_exclude" in config.container.model_dump()  # the runner passes these to DockerEnv
