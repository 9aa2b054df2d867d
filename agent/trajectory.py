"""The trajectory record: what one run saw and did, saved atomically after every step.

Format (JSON, `schema_version` 2; 1 is still read, see SCHEMA_VERSION): task and run ids, the
configs that produced the run, the chat history as the policy saw it (`messages`), one `Step` per
turn with every candidate the chooser weighed and what its requests consumed (agent.types.Usage),
the exit status and the patch. Secrets never go in: `agent.redaction.scrub` runs on every
save, and a patch that carries a known secret is withheld (exit status `secret_in_patch`).
"""

from __future__ import annotations

import json
import time
from dataclasses import fields
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from agent.redaction import PATCH_WITHHELD, carries_secret, scrub
from agent.types import Candidate, Choice, Message, Usage
from envs.files import write_atomic

SCHEMA_VERSION = 2
"""2: tokens counted per request (a prompt once however many samples), cached prompt tokens and the
critic's usage apart. 1: every sample carried its request's whole prompt; still read (PER_SAMPLE_NOTE)."""
READABLE_VERSIONS = (1, 2)
PER_SAMPLE_NOTE = (
    "prompt tokens counted once per sample, as before schema_version 2 (a step of K samples holds K "
    "times its request's prompt; the cost was right)"
)


def usage_note(schema_version: int | None) -> str | None:
    """What a reader must know about the token counts of a trajectory of this version (None: nothing)."""
    return PER_SAMPLE_NOTE if schema_version == 1 else None


class ExitStatus(str, Enum):
    """Why a run ended."""

    submitted = "submitted"
    step_limit = "step_limit"
    cost_limit = "cost_limit"
    context_overflow = "context_overflow"
    format_error = "format_error"
    env_error = "env_error"
    policy_error = "policy_error"
    timeout = "timeout"
    secret_in_patch = "secret_in_patch"
    budget_exhausted = "budget_exhausted"
    """The instance's search budget (search.budget) ran out; the run stopped cleanly."""
    disk_limit = "disk_limit"
    """The agent's commands wrote more than container.disk_limit into the container (the model's doing)."""


class CandidateRecord(BaseModel):
    """One candidate action of a step, with the score the chooser gave it."""

    text: str = Field(description="The raw reply of the policy.")
    command: str | None = Field(None, description="The parsed command; None when the reply did not parse.")
    error: str | None = Field(None, description="Why the reply did not parse.")
    q: float | None = Field(None, description="The critic's Q(s, a), when a critic scored it.")
    count: int = Field(1, description="How many identical samples this candidate stands for.")
    critic_tokens: int | None = Field(
        None, description="Prompt tokens of the critic request that scored it (an LLM judge's)."
    )

    @classmethod
    def of(cls, candidate: Candidate) -> CandidateRecord:
        command = candidate.action.command if candidate.action else None
        return cls(
            text=candidate.text,
            command=command,
            error=candidate.error,
            q=candidate.q,
            count=candidate.count,
            critic_tokens=candidate.critic_tokens,
        )


USAGE_KEYS = tuple(f.name for f in fields(Usage))
"""How a Usage is stored: flat keys prompt_tokens, completion_tokens, cost, cached_prompt_tokens."""
STORED_USAGES = {"usage": ""}
"""Spending's Usage fields stored as flat keys, and their prefix (`critic_usage` stays one nested dict)."""


class Spending(BaseModel):
    """What policy and critic calls consumed: a step's, or the run's in total (Stats).

    Counted per request, as the server bills it (agent.types.Usage): a step's `prompt_tokens` is its
    request's prompt once, not once per sample. In Python `usage` and `critic_usage` are each one
    agent.types.Usage; on disk `usage`'s numbers are flat keys in its place (`prompt_tokens`,
    `completion_tokens`, `cost`, `cached_prompt_tokens`) and `critic_usage` is one nested dict.
    """

    usage: Usage = Field(
        default_factory=Usage,
        description="Tokens and USD of the policy's requests: each prompt once, the cached part of it "
        "apart, every sample's completion tokens (stored as flat keys).",
    )
    critic_calls: int = Field(0, description="Critic requests made.")
    critic_usage: Usage = Field(
        default_factory=Usage,
        description="Tokens and USD of the critic's requests, as the critic reported them (an LLM "
        "judge's usage; our critic server's history and candidate tokens); apart from the policy's "
        "`usage`, stored as one nested dict.",
    )
    critic_undecided: int = Field(
        0, description="Judge answers with neither YES nor NO among the top tokens (each scored 0.5)."
    )

    @model_validator(mode="before")
    @classmethod
    def _gather_usage(cls, data: Any) -> Any:
        """Read the stored flat keys back into `usage` (`critic_usage` is stored nested)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, prefix in STORED_USAGES.items():
            if name not in data and any(prefix + k in data for k in USAGE_KEYS):
                data[name] = {k: data.pop(prefix + k) for k in USAGE_KEYS if prefix + k in data}
        return data

    @model_serializer(mode="wrap")
    def _flatten_usage(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Write `usage` as its flat keys, in its place (the order files have always had)."""
        out: dict[str, Any] = {}
        for key, value in handler(self).items():
            if key in STORED_USAGES:
                out.update({STORED_USAGES[key] + k: v for k, v in value.items()})
            else:
                out[key] = value
        return out


class Step(Spending):
    """One turn: the chosen reply, the command it ran, and what came back (and what choosing it cost)."""

    index: int = Field(description="0-based turn number.")
    response: str = Field(description="The chosen reply, verbatim.")
    thought: str = Field("", description="The free text before the command block.")
    action: str | None = Field(None, description="The command that ran; None after a format error.")
    error: str | None = Field(None, description="The format error, when the reply did not parse.")
    observation: str = Field("", description="The command's output as the agent saw it (after the cap).")
    exit_code: int | None = Field(None, description="Exit status of the command.")
    timed_out: bool = Field(False, description="Whether the command hit its timeout.")
    cwd: str | None = Field(None, description="The shell's directory after the command.")
    current_file: str | None = Field(None, description="The file open in the tools after the command.")
    candidates: list[CandidateRecord] = Field(default_factory=list, description="Every candidate weighed.")
    chosen_index: int = Field(0, description="Index of the chosen candidate.")
    latency: float = Field(0.0, description="Seconds spent choosing the action (policy + critic).")
    duration: float = Field(0.0, description="Seconds the command ran in the container.")
    timestamp: float = Field(default_factory=time.time, description="Unix time the step was recorded.")


class Stats(Spending):
    """Totals over the run."""

    steps: int = Field(0, description="Number of turns.")
    format_errors: int = Field(0, description="Turns whose reply did not parse.")
    started_at: float = Field(default_factory=time.time, description="Unix time the run started.")
    finished_at: float | None = Field(None, description="Unix time the run ended.")
    wall_time: float = Field(0.0, description="Seconds from start to the last update.")


class Trajectory(BaseModel):
    """One run of the agent on one task."""

    model_config = ConfigDict(use_enum_values=False)

    schema_version: int = Field(SCHEMA_VERSION, description="Version of this format.")
    instance_id: str = Field(description="The task's instance id.")
    run_id: str = Field("adhoc", description="The batch or run this trajectory belongs to.")
    config: dict[str, Any] = Field(
        default_factory=dict, description="The configs that produced the run: agent, policy, strategy."
    )
    messages: list[Message] = Field(
        default_factory=list, description="The chat history as the policy saw it."
    )
    steps: list[Step] = Field(default_factory=list, description="One record per turn.")
    exit_status: ExitStatus | None = Field(None, description="Why the run ended; None while it runs.")
    exit_message: str | None = Field(None, description="Details of the exit (the error, the limit hit).")
    patch: str = Field("", description="The diff against the base commit at the end of the run.")
    final_q: float | None = Field(None, description="Q of the final (submit) action, set by search.")
    final_q_tokens: int | None = Field(
        None, description="Prompt tokens of the judge request that gave final_q (an LLM judge's)."
    )
    stats: Stats = Field(default_factory=Stats, description="Totals over the run.")

    def record(
        self, choice: Choice, observation: str, exit_code: int | None, timed_out: bool, **extra: Any
    ) -> Step:
        """Append a step for `choice` and update the totals."""
        action = choice.action
        step = Step(
            index=len(self.steps),
            response=choice.completion.text,
            thought=action.thought if action else "",
            action=action.command if action else None,
            error=choice.error,
            observation=observation,
            exit_code=exit_code,
            timed_out=timed_out,
            candidates=[CandidateRecord.of(c) for c in choice.candidates],
            chosen_index=choice.chosen_index,
            critic_calls=choice.critic_calls,
            critic_usage=choice.critic_usage,
            critic_undecided=choice.critic_undecided,
            latency=choice.latency,
            usage=choice.usage,
            **extra,
        )
        self.steps.append(step)
        s = self.stats
        s.steps += 1
        s.format_errors += choice.error is not None
        s.usage += choice.usage
        s.critic_calls += choice.critic_calls
        s.critic_usage += choice.critic_usage
        s.critic_undecided += choice.critic_undecided
        s.wall_time = time.time() - s.started_at
        return step

    @property
    def cost(self) -> float:
        """USD of the whole run: the policy's and the critic's (what the agent's cost_limit counts)."""
        return self.stats.usage.cost + self.stats.critic_usage.cost

    def finish(self, status: ExitStatus, message: str | None, patch: str) -> None:
        """End the run. A patch carrying a known secret is never kept, and never edited: it is withheld."""
        if carries_secret(patch):
            ended = f" (the run had ended with {status.value}: {message})" if message else ""
            status, message, patch = ExitStatus.secret_in_patch, PATCH_WITHHELD + ended, ""
        self.exit_status, self.exit_message, self.patch = status, message, patch
        self.stats.finished_at = time.time()
        self.stats.wall_time = self.stats.finished_at - self.stats.started_at

    def to_json(self) -> str:
        """The scrubbed JSON text of the record."""
        return json.dumps(scrub(self.model_dump(mode="json")), ensure_ascii=False, indent=1)

    def save(self, path: Path | str) -> None:
        """Write atomically: a temporary file in the same folder, then os.replace."""
        write_atomic(path, self.to_json())

    @property
    def usage_note(self) -> str | None:
        """Set when this record's tokens were counted the old way (schema_version 1: per sample)."""
        return usage_note(self.schema_version)

    @classmethod
    def load(cls, path: Path | str) -> Trajectory:
        """Read a trajectory file; one of schema_version 1 keeps its version (see `usage_note`)."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise ValueError(
                f"{path}: trajectory schema_version {version!r}, this code reads "
                f"{', '.join(map(str, READABLE_VERSIONS))}"
            )
        return cls.model_validate(data)
