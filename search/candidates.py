"""Turn a policy's K completions into parsed, de-duplicated candidates."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.scaffold import to_candidate
from agent.types import Candidate, Completion, Usage


def normalize(text: str) -> str:
    """The dedup key: runs of whitespace collapse to one space, ends stripped."""
    return " ".join(text.split())


@dataclass
class StepCandidates:
    """The unique candidates of one step, with the completion each first came from."""

    candidates: list[Candidate]
    completions: list[Completion]
    """completions[i] is the first completion whose text became candidates[i]."""
    usage: Usage = field(default_factory=Usage)
    """What the step's requests consumed: each request's prompt once, all K completions (duplicates
    included); each Completion keeps its own completion tokens."""

    @property
    def valid(self) -> list[int]:
        """Indices of the candidates that parsed."""
        return [i for i, c in enumerate(self.candidates) if c.action is not None]


def unique_candidates(completions: list[Completion]) -> StepCandidates:
    """Parse every completion (agent.scaffold) and merge exact duplicates after normalising whitespace.

    Order is first occurrence; `Candidate.count` says how many of the K samples were that text.
    Usage adds up over all K completions, duplicates included: a policy puts a request's prompt on
    its first sample only (agent.types.split_request), so K samples of one request count the prompt
    once, and K separate requests (a server without `n`) K times, as they were billed.
    """
    by_key: dict[str, int] = {}
    out = StepCandidates(candidates=[], completions=[])
    for completion in completions:
        out.usage += completion.usage
        key = normalize(completion.text)
        if key in by_key:
            out.candidates[by_key[key]].count += 1
            continue
        by_key[key] = len(out.candidates)
        out.candidates.append(to_candidate(completion.text))
        out.completions.append(completion)
    return out
