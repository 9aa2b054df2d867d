"""Responses-API rollouts (as nemo-gym writes them) -> Episodes.

A row (one JSONL line) holds the prompt in `responses_create_params.input` (a string, or a list of
items) and the rollout in `response.output`, a list of items:
- `message` (role, content as a string or a list of `input_text`/`output_text` parts);
- `function_call` (`name`, `arguments` as JSON text, `call_id`);
- `function_call_output` (`call_id`, `output` as text or parts);
- anything else (`reasoning`, built-in tool calls) is dropped.

The items are read in order as one conversation. Consecutive assistant messages and function calls
form one agent turn (its text, then each call), rendered as critic.data.chat renders tool calls;
each `function_call_output` becomes a user message (the observation). A turn whose calls have no
output (the last, submitting one) stays the last turn. The label is `resolved` if the row has it,
else `reward` (>= 0.5 counts as resolved), and the task is `instance_id` (else
`metadata.instance_id`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from critic.data.chat import chat_to_messages, instance_id, label, part_text, read_rows
from critic.data.runs import DataError, Episode


def items_to_chat(items: list[Any], where: str) -> list[dict[str, Any]]:
    """Responses items -> OpenAI chat messages (assistant turns with `tool_calls`, `tool` results)."""
    chat: list[dict[str, Any]] = []

    def assistant_turn() -> dict[str, Any]:
        # a call or an assistant message right after another (no observation between) joins its turn
        if chat and chat[-1]["role"] == "assistant":
            return chat[-1]
        chat.append({"role": "assistant", "content": "", "tool_calls": []})
        return chat[-1]

    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise DataError(f"{where}: item {i} is not an object")
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            role, text = str(item.get("role", "")), part_text(item.get("content"))
            if role == "assistant":
                turn = assistant_turn()
                turn["content"] = "\n".join(t for t in (turn["content"], text) if t)
            else:
                chat.append({"role": role, "content": text})
        elif kind == "function_call":
            if not item.get("name"):
                raise DataError(f"{where}: item {i} is a function_call without a name")
            call = {"name": item["name"], "arguments": item.get("arguments")}
            assistant_turn()["tool_calls"].append({"type": "function", "function": call})
        elif kind == "function_call_output":
            chat.append({"role": "tool", "content": part_text(item.get("output"))})
    return chat


def rollout_to_episode(row: Mapping[str, Any], where: str) -> Episode:
    params = row.get("responses_create_params") or {}
    prompt = params.get("input") if isinstance(params, Mapping) else None
    if isinstance(prompt, str):
        prompt = [{"type": "message", "role": "user", "content": prompt}]
    response = row.get("response")
    output = response.get("output") if isinstance(response, Mapping) else row.get("output")
    if not isinstance(output, list):
        raise DataError(f"{where}: no `response.output` list of items")
    messages = chat_to_messages(items_to_chat([*(prompt or []), *output], where), where)
    return Episode(instance_id(row, where), messages, label(row, where), source=where)


def load_responses(path: str | Path, limit: int | None = None) -> list[Episode]:
    """Episodes from a JSONL (or .json/.parquet) of Responses-API rollouts."""
    return [rollout_to_episode(row, where) for where, row in read_rows(Path(path))[:limit]]
