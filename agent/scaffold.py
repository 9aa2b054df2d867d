"""The SWE-agent scaffold: prompts, action parsing, observation format, and the in-container tools."""

from __future__ import annotations

import functools
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from agent.config import AgentConfig
from agent.types import Action, Candidate, Message
from envs.types import Env, Observation

TOOLS_SOURCE = Path(__file__).parent / "tools"
"""The tools as they are copied into the container: __main__.py and the swe_tools package."""
TOOLS_DIR = "/usr/local/lib/swe-search-tools"
BIN_DIR = "/usr/local/bin"
TOOL_NAMES = (
    "open",
    "goto",
    "scroll_up",
    "scroll_down",
    "search_file",
    "search_dir",
    "find_file",
    "create",
    "edit",
    "replace",
    "submit",
)
FIND_PYTHON = (  # no `exit`: the env's shell is persistent
    "for p in /usr/bin/python3 /usr/local/bin/python3 /bin/python3 /usr/bin/python; do "
    'if [ -x "$p" ]; then echo "$p"; break; fi; done; command -v python3'
)
STATE_COMMAND = (
    'printf "%s\\n" "$PWD"; cat "${SWE_SEARCH_STATE:-$HOME/.swe_search_state/state.json}" 2>/dev/null'
)

_FENCE_OPEN = re.compile(r"^ {0,3}```\s*([\w+-]*)\s*$")
_FENCE_CLOSE = re.compile(r"^ {0,3}```\s*$")
_COMMAND_LANGS = {"", "bash", "sh", "shell", "console"}
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][\w]*)\1")


class FormatError(ValueError):
    """A reply that is not free text plus exactly one fenced command block."""


class ToolSetupError(RuntimeError):
    """The tools could not be installed in the container."""


# ---------------------------------------------------------------- parsing


def parse_action(text: str) -> Action:
    """Split a reply into thought and command; raise FormatError unless it has exactly one command block."""
    lines = text.split("\n")
    blocks: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        opening = _FENCE_OPEN.match(lines[i])
        if not opening:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if _FENCE_CLOSE.match(lines[j])), None)
        if end is None:
            raise FormatError("the command block is not closed with ```")
        if opening.group(1).lower() in _COMMAND_LANGS:
            blocks.append((i, end))
        i = end + 1
    if not blocks:
        raise FormatError("your reply has no fenced command block (```bash ... ```)")
    if len(blocks) > 1:
        raise FormatError(
            f"your reply has {len(blocks)} command blocks; put exactly one command block per reply"
        )
    start, end = blocks[0]
    command = "\n".join(lines[start + 1 : end]).strip("\n")
    if not command.strip():
        raise FormatError("the command block is empty")
    check_tool_usage(command)
    thought = "\n".join(lines[:start] + lines[end + 1 :]).strip()
    return Action(thought=thought, command=command)


def check_tool_usage(command: str) -> None:
    """Reject `edit`/`replace` calls that would wait for a heredoc that is not there."""
    lines = command.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        heredoc = _HEREDOC.search(line)
        words = _words(line)
        if words and words[0] == "edit" and not heredoc:
            raise FormatError("`edit START:END` needs the new text in a heredoc: edit 3:5 <<'EOF' ... EOF")
        if words and words[0] == "replace" and not heredoc:
            positional = [w for w in words[1:] if w != "--replace-all"]
            if len(positional) < 2:
                raise FormatError(
                    "`replace` needs SEARCH and REPLACE as two quoted words, or SEARCH/REPLACE blocks in a heredoc"
                )
        if heredoc:  # skip the heredoc body
            delimiter = heredoc.group(2)
            i = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == delimiter), len(lines))
        i += 1


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:  # an unclosed quote: a multi-line argument, not ours to judge
        return []


# ---------------------------------------------------------------- prompts and observations


def _render(template: str, **values: Any) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
    return env.from_string(template).render(**values)


def initial_messages(
    config: AgentConfig, problem_statement: str, workdir: str, instance_id: str
) -> list[Message]:
    """The system prompt and the first user message of a run."""
    t = config.templates
    return [
        {"role": "system", "content": _render(t.system, window=config.window)},
        {
            "role": "user",
            "content": _render(
                t.instance, problem_statement=problem_statement, workdir=workdir, instance_id=instance_id
            ),
        },
    ]


def format_error_message(config: AgentConfig, error: str) -> Message:
    return {"role": "user", "content": _render(config.templates.format_error, error=error)}


@dataclass(frozen=True)
class ShellState:
    """Where the agent stands after a command: the shell's directory and the tools' open file."""

    cwd: str
    current_file: str | None = None


def truncate(text: str, limit: int, printed: int | None = None) -> str:
    """Cut the middle of `text` to `limit` characters, saying how much was cut and what to do.

    `printed` is what the command printed in all, in bytes, when the env knows it: the env may
    have cut the output already, so the note then counts from that, not from `text`.
    """
    if len(text) <= limit:
        return text
    head, tail = text[: limit // 2], text[-(limit // 2) :]
    if printed is None:
        cut, size = f"{len(text) - len(head) - len(tail)} characters", f"{len(text)}"
    else:
        shown = len(head.encode()) + len(tail.encode())
        cut, size = f"{max(printed - shown, 0)} bytes", f"{printed} bytes"
    note = (
        f"\n\n[... {cut} cut from the middle of this output ({size} in all). "
        "Narrow the command, e.g. with grep, head, tail, or open FILE LINE ...]\n\n"
    )
    return head + note + tail


def observation_message(
    config: AgentConfig, obs: Observation, state: ShellState, timeout: float | None = None
) -> Message:
    """The user message that shows a command's result, ending with the shell prompt line."""
    text = obs.output.rstrip("\n")
    if not text.strip():
        text = "(the command ran and printed nothing)"
    text = truncate(text, config.observation_chars, obs.output_bytes)
    if obs.timed_out:
        limit = f" after {timeout:g} seconds" if timeout else ""
        text += (
            f"\n(the command timed out{limit} and was interrupted; run something faster or in the background)"
        )
    elif obs.exit_code != 0:
        text += f"\n(exit code {obs.exit_code})"
    content = _render(
        config.templates.next_step,
        observation=text,
        exit_code=obs.exit_code,
        timed_out=obs.timed_out,
        cwd=state.cwd,
        current_file=state.current_file,
    )
    return {"role": "user", "content": content}


def read_state(env: Env, fallback_cwd: str) -> ShellState:
    """Ask the container for its directory and open file."""
    out = env.execute(STATE_COMMAND, timeout=30).output
    first, _, rest = out.partition("\n")
    current = None
    if rest.strip():
        try:
            current = json.loads(rest).get("file")
        except (ValueError, AttributeError):
            current = None
    return ShellState(cwd=first.strip() or fallback_cwd, current_file=current)


# ---------------------------------------------------------------- tools in the container


def wrapper_script(python: str, tool: str) -> str:
    # Python runs the folder by its __main__.py, with the folder on sys.path (which -I gives no script)
    return f'#!/bin/sh\nexec {shlex.quote(python)} -I -S {TOOLS_DIR} {tool} "$@"\n'


@functools.cache
def _tool_sources() -> tuple[tuple[str, bytes], ...]:
    # read once per process: every run of the agent installs the same files
    return tuple(
        (f"{TOOLS_DIR}/{path.relative_to(TOOLS_SOURCE).as_posix()}", path.read_bytes())
        for path in sorted(TOOLS_SOURCE.rglob("*.py"))
    )


def tool_files(python: str) -> dict[str, bytes]:
    """Every file `install_tools` writes, by its path in the container: the tools' sources and one
    wrapper per tool that runs them on `python`."""
    wrappers = {f"{BIN_DIR}/{tool}": wrapper_script(python, tool).encode() for tool in TOOL_NAMES}
    return {**dict(_tool_sources()), **wrappers}


def install_tools(env: Env, window: int = 100) -> str:
    """Write the tools into the container; returns the interpreter they run on."""
    found = env.execute(FIND_PYTHON, timeout=30)
    python = next((line.strip() for line in found.output.splitlines() if line.strip().startswith("/")), "")
    if not python:
        raise ToolSetupError(f"no python3 in the container to run the tools on (found {found.output!r})")
    mkdir = env.execute(f"mkdir -p {TOOLS_DIR} {BIN_DIR}", timeout=30)
    if mkdir.exit_code != 0:
        raise ToolSetupError(f"could not create {TOOLS_DIR}: {mkdir.output}")
    env.write_files(tool_files(python))
    paths = " ".join(f"{BIN_DIR}/{t}" for t in TOOL_NAMES)
    done = env.execute(
        f"chmod 755 {paths} && export SWE_SEARCH_WINDOW={int(window)} && hash -r && command -v open",
        timeout=30,
    )
    if done.exit_code != 0 or f"{BIN_DIR}/open" not in done.output:
        raise ToolSetupError(f"the tools are not on PATH after install: {done.output!r}")
    return python


def to_candidate(text: str) -> Candidate:
    """A reply as a candidate action: parsed, or with the format error that rejects it."""
    try:
        return Candidate(text=text, action=parse_action(text))
    except FormatError as exc:
        return Candidate(text=text, error=str(exc))
