"""What runs consumed, as the cost tables show it (the run report's and the experiment's).

Read from the trajectories. Tokens are counted per request, as they are billed (agent.types.Usage):
- `prompt_tokens`: each policy request's prompt once, however many samples it returned (K candidates
  from one `n=K` request count one prompt; K separate requests, with `supports_n: false`, K prompts);
- `cached_prompt_tokens`: the part of those the server read from its prefix cache
  (`usage.prompt_tokens_details.cached_tokens`; billed at the `cached_input` price);
- `completion_tokens`: every sample's own, duplicates included;
- `critic_tokens`: what the critic reported (an LLM judge's prompt and completion tokens; our critic
  server's history once plus the candidates), over the steps and selection's final-Q scoring;
- `cost_usd`: the policy's and the critic's requests together.
Trajectories of schema_version 1 counted each sample's prompt in full; `usage_notes` says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agent.trajectory import Spending, Stats, usage_note
from agent.types import Usage

USAGE_KEYS = ("prompt_tokens", "cached_prompt_tokens", "completion_tokens", "critic_tokens", "cost_usd")
"""The columns every cost table shows, in this order."""


def usage_row(policy: Usage, critic: Usage) -> dict[str, float]:
    """The cost-table columns (USAGE_KEYS) of a policy and a critic Usage."""
    return {
        "prompt_tokens": float(policy.prompt_tokens),
        "cached_prompt_tokens": float(policy.cached_prompt_tokens),
        "completion_tokens": float(policy.completion_tokens),
        "critic_tokens": float(critic.tokens),
        "cost_usd": float(policy.cost + critic.cost),
    }


def run_usage(traj: dict[str, Any]) -> dict[str, float]:
    """One trajectory's totals (its `stats`) as cost-table columns."""
    stats = Stats.model_validate(traj.get("stats") or {})
    return usage_row(stats.usage, stats.critic_usage)


def steps_critic_usage(traj: dict[str, Any]) -> Usage:
    """The critic usage of a trajectory's steps alone (its stats add selection's final-Q scoring)."""
    return sum((Spending.model_validate(s).critic_usage for s in traj.get("steps") or []), Usage())


def usage_notes(trajectories: Iterable[dict[str, Any]]) -> list[str]:
    """What a reader must know about the token counts of these trajectories (older formats)."""
    counts: dict[str, int] = {}
    for traj in trajectories:
        note = usage_note(traj.get("schema_version"))
        if note:
            counts[note] = counts.get(note, 0) + 1
    return [f"{n} trajectories have {note}" for note, n in counts.items()]


def usage_cells(row: dict[str, float], digits: int = 0, share: bool = True) -> list[str]:
    """The USAGE_KEYS of `row` as table cells: tokens as numbers, the cached share beside its count
    (`share`; a terminal's table leaves it out)."""
    prompt, cached = row["prompt_tokens"], row["cached_prompt_tokens"]
    share_text = f" ({100 * cached / prompt:.0f}%)" if share and prompt and cached else ""
    return [
        f"{prompt:,.{digits}f}",
        f"{cached:,.{digits}f}{share_text}",
        f"{row['completion_tokens']:,.{digits}f}",
        f"{row['critic_tokens']:,.{digits}f}",
        f"${row['cost_usd']:.4f}",
    ]


USAGE_HEADER = ["prompt tokens (billed)", "of those cached", "completion tokens", "critic tokens", "cost"]
"""The header cells of `usage_cells`."""
