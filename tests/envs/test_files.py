"""read_file / write_file / write_files: arbitrary bytes, Unicode names and contents, large files, permissions."""

from __future__ import annotations

import os

import pytest

from envs.docker import DockerEnv


def test_unicode_file_round_trips(env: DockerEnv) -> None:
    text = "héllo wörld ✓ 你好 🚀\r\nline two\n"
    env.write_file("docs/ünïcødé.txt", text.encode())
    assert env.read_file("/testbed/docs/ünïcødé.txt").decode() == text
    assert env.execute("cat docs/ünïcødé.txt").output == text.replace("\r\n", "\n")


def test_binary_and_large_file_round_trips(env: DockerEnv) -> None:
    data = os.urandom(8_000_000) + b"\x00\xff" * 10
    env.write_file("/tmp/blob.bin", data)
    assert env.read_file("/tmp/blob.bin") == data
    assert env.execute("stat -c %s /tmp/blob.bin").output.strip() == str(len(data))


def test_write_creates_parents_and_keeps_the_exec_bit(env: DockerEnv) -> None:
    env.write_file("run.sh", b"#!/bin/sh\necho changed\n")
    assert env.execute("./run.sh").output == "changed\n"
    env.write_file("a/b/c/new.txt", b"new")
    assert env.execute("stat -c %a a/b/c/new.txt").output.strip() == "644"


def test_write_files_copies_many_at_once_and_keeps_each_exec_bit(env: DockerEnv) -> None:
    env.write_files({"run.sh": b"#!/bin/sh\necho one\n", "x/y z.txt": b"spaced", "/tmp/abs.txt": b"abs"})
    env.execute("chmod 755 run.sh")
    env.write_files({"run.sh": b"#!/bin/sh\necho two\n", "x/y z.txt": b"again", "/tmp/abs.txt": b"more"})
    assert env.execute("./run.sh").output == "two\n"
    assert env.read_file("x/y z.txt") == b"again" and env.read_file("/tmp/abs.txt") == b"more"
    modes = env.execute("stat -c %a run.sh 'x/y z.txt' /tmp/abs.txt").output.split()
    assert modes == ["755", "644", "644"]


def test_read_follows_symlinks(env: DockerEnv) -> None:
    env.execute("ln -s hello.py link.py")
    assert env.read_file("link.py") == b"print('hello')\n"


def test_reading_a_missing_file_or_a_folder_raises(env: DockerEnv) -> None:
    with pytest.raises(FileNotFoundError, match="no-such-file"):
        env.read_file("no-such-file")
    with pytest.raises(IsADirectoryError):
        env.read_file("/etc")
