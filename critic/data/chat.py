"""OpenAI chat messages (content parts, assistant `tool_calls`, `tool` results) -> the critic's messages.

The critic reads plain `{role, content}` turns, as our scaffold writes them: one assistant message
per agent turn, its action in a fenced block, the observations as user messages. Frameworks that
call tools write the action as structured calls instead; they become text with one rendering,
used for every format that has tool calls (OpenAI messages here, mini-swe-agent's toolcall runs,
Responses-API rollouts in critic.data.responses):

- an assistant turn is its text (stripped), then each call as a fenced block, separated by blank
  lines: a call of `name` with arguments that are a JSON object of one string field (bash's
  `{"command": "ls"}`) is ```` ```name\\n<that string>\\n``` ```` (so a `bash` call reads as our own
  scaffold's ```` ```bash ```` block); no arguments, ```` ```name\\n``` ````; any other arguments,
  their JSON (keys in the given order) as the block's body;
- a `tool` message (a call's result) is a user message holding the result's text;
- content given as a list of parts keeps its text parts (`text`, `input_text`, `output_text`),
  joined by newlines; other parts (images) are dropped. `reasoning_content` is dropped;
- roles: system and developer -> system, user -> user; a message with no text and no calls (a
  framework's final bookkeeping message) is dropped; any other role is a DataError.

JSONL of `{messages, resolved}` rows is one source format (`load_chat_jsonl`): `resolved` (a bool)
or else `reward` (a number, >= 0.5 counts as resolved) is the label; `instance_id` (else
`metadata.instance_id`, else `<file>:<line>`) names the task.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agent.types import Message
from critic.data.runs import DataError, Episode

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "user"}
TEXT_PARTS = ("text", "input_text", "output_text")
RESOLVED_REWARD = 0.5
"""A `reward` at or above this counts as resolved (the SWE environments that write one give 1 or 0)."""


def part_text(content: Any) -> str:
    """A message's content as text: a string as is, a list of parts as its text parts joined by newlines."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping) and part.get("type", "text") in TEXT_PARTS:
                texts.append(str(part.get("text") or ""))
        return "\n".join(t for t in texts if t)
    return str(content)


def render_call(name: str, arguments: Any) -> str:
    """One tool call as the fenced block the critic reads (see the module docstring)."""
    args = arguments
    if isinstance(arguments, str):
        try:
            args = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            args = arguments  # not JSON: the text as given
    if isinstance(args, Mapping) and len(args) == 1 and isinstance(next(iter(args.values())), str):
        body = next(iter(args.values()))
    elif args in ({}, None, ""):
        body = ""
    elif isinstance(args, str):
        body = args
    else:
        body = json.dumps(args, ensure_ascii=False)
    return f"```{name}\n{body.rstrip(chr(10))}\n```" if body else f"```{name}\n```"


def render_action(text: str, calls: Iterable[tuple[str, Any]]) -> str:
    """An assistant turn: its text, then each (name, arguments) call as a fenced block."""
    blocks = [text.strip()] if text.strip() else []
    blocks += [render_call(name, args) for name, args in calls]
    return "\n\n".join(blocks)


def chat_to_messages(messages: list[Any], where: str) -> list[Message]:
    """OpenAI chat messages -> the critic's `{role, content}` messages (see the module docstring)."""
    if not isinstance(messages, list):
        raise DataError(f"{where}: `messages` must be a list")
    out: list[Message] = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise DataError(f"{where}: message {i} is not an object")
        role = ROLES.get(str(m.get("role", "")))
        calls = m.get("tool_calls") or []
        text = part_text(m.get("content"))
        if role is None:
            if not text and not calls:
                continue  # e.g. mini-swe-agent's closing {role: exit, content: ""}
            raise DataError(f"{where}: message {i} has unknown role {m.get('role')!r}")
        if role == "assistant" and calls:
            text = render_action(text, (_call(c, where, i) for c in calls))
        if not text:
            continue
        out.append({"role": role, "content": text})
    return out


def _call(call: Any, where: str, i: int) -> tuple[str, Any]:
    function = call.get("function") if isinstance(call, Mapping) else None
    if not isinstance(function, Mapping) or not function.get("name"):
        raise DataError(f"{where}: message {i} has a tool call without function.name")
    return str(function["name"]), function.get("arguments")


def label(row: Mapping[str, Any], where: str) -> bool:
    """`resolved` (bool), else `reward` (>= RESOLVED_REWARD counts as resolved)."""
    resolved = row.get("resolved")
    if isinstance(resolved, bool):
        return resolved
    reward = row.get("reward")
    if isinstance(reward, int | float) and not isinstance(reward, bool):
        return float(reward) >= RESOLVED_REWARD
    raise DataError(f"{where}: no label: give `resolved` (true/false) or a numeric `reward`")


def instance_id(row: Mapping[str, Any], where: str) -> str:
    metadata = row.get("metadata") if isinstance(row.get("metadata"), Mapping) else {}
    return str(row.get("instance_id") or metadata.get("instance_id") or where)


def read_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, row) of a .jsonl (one object a line), .json (a list) or .parquet file."""
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            rows = pq.read_table(path).to_pylist()
            return [(f"{path} row {i}", r) for i, r in enumerate(rows)]
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = data if isinstance(data, list) else [data]
            return [(f"{path} row {i}", r) for i, r in enumerate(rows)]
        out = []
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
            if line.strip():
                out.append((f"{path}:{number}", json.loads(line)))
        return out
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: could not read it: {' '.join(str(e).split())[:200]}") from None


def load_chat_jsonl(path: str | Path, limit: int | None = None) -> list[Episode]:
    """Episodes from JSONL of `{messages, resolved}` (OpenAI chat format, tool calls rendered)."""
    path = Path(path)
    episodes = []
    for where, row in read_rows(path)[:limit]:
        if not isinstance(row, Mapping):
            raise DataError(f"{where}: not an object")
        messages = chat_to_messages(row.get("messages"), where)
        episodes.append(Episode(instance_id(row, where), messages, label(row, where), source=where))
    return episodes
