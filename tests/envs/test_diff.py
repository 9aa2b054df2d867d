"""diff(): every kind of change against the base commit, applied cleanly on a fresh container."""

from __future__ import annotations

import time

from envs.docker import DockerEnv
from envs.types import Task


def make_every_kind_of_change(env: DockerEnv) -> None:
    env.execute("echo \"print('bonjour')\" > hello.py")
    env.execute("git mv old_name.txt new_name.txt && rm to_delete.txt")
    env.write_file("added/ünïcødé.py", "x = '✓'\n".encode())
    env.write_file("data.bin", bytes(range(255, -1, -1)) * 4)
    env.write_file("new.bin", b"\x00\x01\x02binary\xff")
    env.execute("chmod +x hello.py")


def test_diff_covers_modified_added_deleted_renamed_and_binary_files(env: DockerEnv) -> None:
    make_every_kind_of_change(env)
    patch = env.diff()
    assert "rename from old_name.txt" in patch and "rename to new_name.txt" in patch
    assert "deleted file mode" in patch and "to_delete.txt" in patch
    assert "added/ünïcødé.py" in patch
    assert "GIT binary patch" in patch
    assert "+print('bonjour')" in patch
    assert "new mode 100755" in patch


def test_diff_applies_on_a_fresh_container(env: DockerEnv, tiny_task: Task, run_id: str) -> None:
    make_every_kind_of_change(env)
    patch = env.diff()
    checksums = (
        "find . -path ./.git -prune -o -type f -print | sort | xargs md5sum; find . -perm -u+x -type f | sort"
    )
    with DockerEnv(tiny_task, run_id=run_id) as fresh:
        fresh.write_file("/tmp/agent.patch", patch.encode())
        applied = fresh.execute("git apply --check /tmp/agent.patch && git apply /tmp/agent.patch")
        assert applied.exit_code == 0, applied.output
        assert fresh.diff() == patch
        assert fresh.execute(checksums).output == env.execute(checksums).output


def test_diff_leaves_the_agents_index_alone(env: DockerEnv) -> None:
    env.write_file("untracked.txt", b"new\n")
    before = env.execute("git status --porcelain").output
    assert "?? untracked.txt" in before
    assert "untracked.txt" in env.diff()
    assert env.execute("git status --porcelain").output == before


def test_diff_is_empty_without_changes_and_includes_commits(env: DockerEnv) -> None:
    assert env.diff() == ""
    env.execute("echo more >> hello.py && git -c user.name=a -c user.email=a@b commit -qam agent-commit")
    assert "+more" in env.diff()


def test_diff_sees_a_same_size_edit_right_after_a_checkout(env: DockerEnv) -> None:
    """git trusts a file whose size and mtime second match its index entry, unless the entry is
    "racily clean" (not older than the index file); diff's scratch copy of the index must keep the
    index's mtime, or an edit made in the second of a `git checkout --` is lost from the patch."""
    env.execute("echo \"print('hallo')\" > hello.py")  # an edit, then undone, as agents do
    env.execute("git checkout -- hello.py")
    env.execute("echo \"print('HELLO')\" > hello.py")  # the next edit: in place, same size, same second
    time.sleep(1.1)  # the diff runs in a later second than the checkout
    assert "+print('HELLO')" in env.diff()
