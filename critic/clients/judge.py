"""The LLM judge: a critic that needs no training (`--critic judge:MODEL`).

A chat model is asked, for each candidate, whether the agent will resolve the issue if it takes that
action next (lookahead), or whether a finished run's patch resolves it (selection, `score_run`). The
prompts are Jinja2 templates (configs/judge.yaml, critic.config.JudgeConfig). Rules:

- **Score**: one answer token at temperature 0 with `logprobs` and `top_logprobs`; Q = P(YES) /
  (P(YES) + P(NO)), each summed over the token variants (`YES`, ` Yes`, `yes`, `Yes.`, ...).
- **No log-probabilities** (the server returns none, or refuses the parameter): from then on each
  candidate gets `fallback_samples` answers at `fallback_temperature`, and Q is the YES fraction of
  the YES/NO answers. Said once on the console and recorded in `describe()` (the trajectory's critic).
- **Neither token** among the top answers (or no YES/NO sample): Q = 0.5, counted (`undecided`).
- **Long histories**: cut with critic.serialize's rule (the system prompt and issue kept, whole turn
  groups dropped oldest first), counted in tokens where the judge's tokenizer is known (`judge:smollm2`,
  or `tokenizer:`), else in characters (`max_chars`).
- **Cost and speed**: the K candidates of a step go as K concurrent requests that share one prefix,
  the candidate last (prefix and prompt caching reuse the history); each request is the policy
  machinery's (agent.policies.openai_compat: key from the alias's env var, tenacity retries, the run's
  deadline); its tokens and cost (the alias's price, each request's prompt counted once) go into
  `last_call` (critic.protocol.CriticCall), which search charges to the budget.
- `judge:smollm2` (any `backend: local` alias) runs the model in-process and reads the YES/NO
  logits of the next token directly. SmolLM2-135M's judgements are near chance: it exists so that the
  judge path runs with a real model offline and in CI.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jinja2

from agent import deadline
from agent.types import Message, Usage
from critic.config import JudgeConfig
from critic.errors import CriticUnavailable
from critic.protocol import CriticCall, final_turn
from critic.serialize import CUT_MARK, ContextTooLong, Serializer, keep_from

log = logging.getLogger(__name__)

ANSWERS = ("yes", "no")
DEFAULT_TOKEN_BUDGET = 8192
"""The prompt budget in tokens when neither `max_tokens` nor the alias's context_tokens says."""
DEFAULT_CHAR_BUDGET = 96_000
"""The prompt budget in characters when neither `max_chars` nor the alias's context_tokens says."""
CHARS_PER_TOKEN = 3
"""Characters per token of the alias's context when the budget is counted in characters (cautious)."""
ANSWER_ROOM = 16
"""Tokens of the context left for the answer."""


def answer_of(text: str) -> str | None:
    """'yes' or 'no' when `text` (a token or a sampled answer) is one of their variants, else None."""
    words = text.strip().split()
    word = words[0].strip(".,;:!?\"'`*()[]<>").lower() if words else ""
    return word if word in ANSWERS else None


def yes_share(top: list[tuple[str, float]]) -> float | None:
    """P(YES) / (P(YES) + P(NO)) over (token, logprob) pairs, variants summed; None when neither is there."""
    p = {"yes": 0.0, "no": 0.0}
    for token, logprob in top:
        answer = answer_of(token)
        if answer is not None:
            p[answer] += math.exp(logprob)
    total = p["yes"] + p["no"]
    return p["yes"] / total if total > 0 else None


@dataclass
class Answer:
    """One judge request: the score (None: neither YES nor NO), what it cost, and its prompt's size."""

    value: float | None
    usage: Usage
    prompt_tokens: int


class JudgePrompts:
    """The judge's chat prompts from a history: shared prefix first, the candidate (or patch) last.

    `measure(text)` counts a text in the budget's `unit` (tokens or characters); the whole prompt
    (system and user message) fits in `limit`.
    """

    def __init__(self, config: JudgeConfig, measure: Callable[[str], int], limit: int, unit: str) -> None:
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)
        try:
            self._system = env.from_string(config.templates.system).render()
            self._lookahead = env.from_string(config.templates.lookahead)
            self._selection = env.from_string(config.templates.selection)
        except jinja2.TemplateError as e:
            raise CriticUnavailable(f"a judge template does not render: {e}") from e
        self.measure, self.limit, self.unit = measure, limit, unit

    def lookahead(self, history: list[Message], candidates: list[str]) -> list[list[Message]]:
        """One prompt per candidate; all share the same (possibly cut) history."""
        return self._prompts(self._lookahead, history, [{"candidate": c} for c in candidates])

    def selection(self, history: list[Message], final: str, patch: str) -> list[Message]:
        """The prompt that scores a finished run (its last reply and patch)."""
        return self._prompts(self._selection, history, [{"final": final, "patch": patch}])[0]

    def _prompts(
        self, template: jinja2.Template, history: list[Message], tails: list[dict[str, str]]
    ) -> list[list[Message]]:
        head, groups = Serializer.split(history)
        issue = next((m["content"] for m in history[:head] if m["role"] == "user"), "")
        turns = [[history[i] for i in g] for g in groups]

        def render(start: int, issue: str, tail: dict[str, str]) -> list[Message]:
            kept = [m for g in turns[start:] for m in g]
            user = template.render(issue=issue, turns=kept, dropped=start, **tail)
            return [{"role": "system", "content": self._system}, {"role": "user", "content": user}]

        def size(prompt: list[Message]) -> int:
            return sum(self.measure(m["content"]) for m in prompt)

        empty = {k: "" for k in tails[0]}
        while True:
            head_len = size(render(len(turns), issue, empty))
            tail_len = max(sum(self.measure(v) for v in t.values()) for t in tails)
            lens = [sum(self.measure(m["content"]) + 4 for m in g) for g in turns]
            try:
                start = keep_from(head_len, lens, tail_len, self.limit, self.unit)
                break
            except ContextTooLong:  # the issue and the candidate alone are too long: cut the longest
                issue, tails = self._shorten(issue, tails)
        # the template adds a little per turn: drop one more group until the longest prompt fits
        longest = max(range(len(tails)), key=lambda k: sum(self.measure(v) for v in tails[k].values()))
        while start < len(turns) and size(render(start, issue, tails[longest])) > self.limit:
            start += 1
        return [render(start, issue, t) for t in tails]

    def _shorten(self, issue: str, tails: list[dict[str, str]]) -> tuple[str, list[dict[str, str]]]:
        """The issue or the tails' longest text cut to half in the middle (the CUT_MARK stands for it)."""
        texts = [issue] + [v for t in tails for v in t.values()]
        longest = max(texts, key=len)
        if len(longest) < 4 * len(CUT_MARK):
            raise CriticUnavailable(
                f"the judge's prompt template alone exceeds its budget of {self.limit} {self.unit}; "
                "raise judge.max_tokens / judge.max_chars"
            )

        def cut(text: str) -> str:
            if text is not longest:
                return text
            keep = len(text) // 4
            return text[:keep] + CUT_MARK + text[-keep:]

        return cut(issue), [{k: cut(v) for k, v in t.items()} for t in tails]


class Judge:
    """The Critic protocol over `_ask` (one prompt -> one Answer): K concurrent requests per step,
    the call's cost in `last_call` (per thread), `score_run` for selection, `describe` for the record."""

    kind = "judge"

    def __init__(self, name: str, config: JudgeConfig, prompts: JudgePrompts, concurrency: int) -> None:
        self.name, self.config, self.prompts, self.concurrency = name, config, prompts, concurrency
        self._local = threading.local()
        self._lock = threading.Lock()
        self.undecided = 0
        """Answers with neither YES nor NO over this judge's life (each scored 0.5)."""

    @property
    def last_call(self) -> CriticCall | None:
        """What this thread's last `score` or `score_run` cost (critic.protocol.last_call reads it)."""
        return getattr(self._local, "call", None)

    def score(self, history: list[Message], candidates: list[str]) -> list[float]:
        return self._score_prompts(self.prompts.lookahead(history, candidates))

    def score_run(self, messages: list[Message], patch: str) -> float:
        """Selection's value: the selection prompt over the whole run, its last reply and its patch."""
        history, final = final_turn(messages)
        return self._score_prompts([self.prompts.selection(history, final, patch)])[0]

    def _score_prompts(self, prompts: list[list[Message]]) -> list[float]:
        end = deadline.current()  # the pool's threads do not see this context: pass it along
        if len(prompts) == 1:
            answers = [self._ask(prompts[0], end)]
        else:
            with ThreadPoolExecutor(max_workers=min(len(prompts), self.concurrency)) as pool:
                answers = list(pool.map(lambda p: self._ask(p, end), prompts))
        undecided = sum(a.value is None for a in answers)
        usage = Usage()
        for a in answers:
            usage += a.usage
        with self._lock:
            self.undecided += undecided
        self._local.call = CriticCall(usage, [a.prompt_tokens for a in answers], undecided)
        return [0.5 if a.value is None else a.value for a in answers]

    def _ask(self, prompt: list[Message], end: float | None) -> Answer:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """The judge as the trajectory's critic config records it."""
        return {
            "kind": self.kind,
            "model": self.name,
            "budget": f"{self.prompts.limit} {self.prompts.unit}",
        }


class APIJudge(Judge):
    """A judge behind an OpenAI-compatible endpoint (OpenAI, vLLM, ...), through an OpenAIPolicy."""

    def __init__(self, policy: Any, config: JudgeConfig, prompts: JudgePrompts) -> None:
        super().__init__(policy.spec.name, config, prompts, config.concurrency or policy.spec.concurrency)
        self.policy = policy
        self.sampled: str | None = None
        """Why the judge samples answers instead of reading log-probabilities (None while it reads them)."""

    def describe(self) -> dict[str, Any]:
        c = self.config
        scoring = (
            f"logprobs: P(YES) / (P(YES) + P(NO)) over the top {c.top_logprobs} of one token at T=0"
            if self.sampled is None
            else f"sampled: YES fraction of {c.fallback_samples} answers at T={c.fallback_temperature:g}"
        )
        out = {**super().describe(), "base_url": self.policy.base_url, "scoring": scoring}
        if self.sampled is not None:
            out["fallback"] = self.sampled
        return out

    def _ask(self, prompt: list[Message], end: float | None) -> Answer:
        from agent.policies import PolicyError, PolicyRequestError

        spent = Usage()  # a first request that came back without log-probabilities still costs
        try:
            if self.sampled is None:
                try:
                    response = self.policy.create(
                        prompt,
                        1,
                        0.0,
                        end,
                        max_tokens=1,
                        logprobs=True,
                        top_logprobs=self.config.top_logprobs,
                    )
                except PolicyRequestError as e:
                    if "logprob" not in str(e).lower():
                        raise
                    self._fall_back(f"the server refused log-probabilities ({e})")
                else:
                    top = _top_logprobs(response)
                    if top is not None:
                        return Answer(yes_share(top), self._usage(response), _prompt_tokens(response))
                    spent = self._usage(response)
                    self._fall_back("the server returned no log-probabilities")
            answer = self._sample(prompt, end)
            answer.usage += spent
            return answer
        except PolicyError as e:
            raise CriticUnavailable(f"the judge {self.name!r} failed: {e}") from e

    def _fall_back(self, why: str) -> None:
        with self._lock:
            if self.sampled is None:
                self.sampled = why
                c = self.config
                log.warning(
                    "judge %s: %s; scoring by the YES fraction of %d answers sampled at T=%g instead",
                    self.name,
                    why,
                    c.fallback_samples,
                    c.fallback_temperature,
                )

    def _sample(self, prompt: list[Message], end: float | None) -> Answer:
        from agent.policies import PolicyRequestError

        c = self.config
        try:
            responses = [
                self.policy.create(prompt, c.fallback_samples, c.fallback_temperature, end, max_tokens=4)
            ]
        except PolicyRequestError:  # no `n` here: one request per sample
            if c.fallback_samples == 1:
                raise
            responses = [
                self.policy.create(prompt, 1, c.fallback_temperature, end, max_tokens=4)
                for _ in range(c.fallback_samples)
            ]
        answers = [answer_of(ch.message.content or "") for r in responses for ch in r.choices]
        yes, no = answers.count("yes"), answers.count("no")
        usage = Usage()
        for r in responses:
            usage += self._usage(r)
        return Answer(yes / (yes + no) if yes + no else None, usage, _prompt_tokens(responses[0]))

    def _usage(self, response: Any) -> Usage:
        """One request's tokens and cost at the alias's price (its prompt counted once, whatever n)."""
        u = response.usage
        prompt, completion = (u.prompt_tokens or 0, u.completion_tokens or 0) if u else (0, 0)
        return Usage(prompt, completion, self.policy.spec.price.cost(prompt, completion))


def _prompt_tokens(response: Any) -> int:
    return int(response.usage.prompt_tokens or 0) if response.usage else 0


def _top_logprobs(response: Any) -> list[tuple[str, float]] | None:
    """(token, logprob) of the first answer token's top alternatives (with the token itself); None when
    the response carries no log-probabilities."""
    choice = response.choices[0] if response.choices else None
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    first = content[0]
    pairs = [(t.token, t.logprob) for t in (first.top_logprobs or [])]
    if not any(token == first.token for token, _ in pairs):
        pairs.append((first.token, first.logprob))
    return pairs


class LocalJudge(Judge):
    """A judge run in-process with transformers (`judge:smollm2`): the next token's YES/NO probabilities
    are read from the logits directly (every variant's token summed), so it never needs a fallback."""

    def __init__(self, policy: Any, config: JudgeConfig, prompts: JudgePrompts) -> None:
        super().__init__(policy.name, config, prompts, 1)
        self.model, self.tokenizer, self.device = policy.model, policy.tokenizer, policy.device
        self._ids = _answer_ids(self.tokenizer)
        self._forward = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "scoring": "logits: P(YES) / (P(YES) + P(NO)) of the next token, variants summed",
            "device": str(self.device),
        }

    def _ask(self, prompt: list[Message], end: float | None) -> Answer:
        import torch

        deadline.bound(1.0, end, f"the judge {self.name!r}")  # no time left: stop before the forward
        text = self.tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        ids = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"].to(self.device)
        with self._forward, torch.no_grad():
            logits = self.model(ids).logits[0, -1].float()
        probs = torch.softmax(logits, dim=-1)
        yes, no = (float(probs[self._ids[a]].sum()) for a in ANSWERS)
        value = yes / (yes + no) if yes + no > 0 else None
        return Answer(value, Usage(int(ids.shape[1]), 0, 0.0), int(ids.shape[1]))


def _answer_ids(tokenizer: Any) -> dict[str, list[int]]:
    """The token ids whose text is a variant of YES or of NO (`answer_of`)."""
    out: dict[str, list[int]] = {a: [] for a in ANSWERS}
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    for i, piece in enumerate(pieces):  # decode only the few pieces that can be an answer
        if piece is None or not any(a in piece.lower() for a in ANSWERS):
            continue
        text = tokenizer.decode([i])
        if len(text) <= 8:
            answer = answer_of(text)
            if answer is not None:
                out[answer].append(i)
    if not all(out.values()):
        raise CriticUnavailable("the judge's tokenizer has no YES or no NO token")
    return out


# ----------------------------------------------------------------------------- `judge:` specs

SPEC = re.compile(r"judge:(?P<model>[^@]+?)(?:@(?P<url>https?://.+))?$")
"""`judge:ALIAS` (configs/models.yaml) or `judge:MODEL@URL` (any model at an OpenAI-compatible URL)."""


def parse_spec(spec: str) -> tuple[str, str | None]:
    """(model, url or None) of `judge:ALIAS` | `judge:MODEL@URL`; CriticUnavailable when malformed."""
    m = SPEC.match(spec.strip())
    if not m or not m["model"].strip():
        raise CriticUnavailable(
            f"--critic {spec!r}: a judge is judge:ALIAS (a model alias of configs/models.yaml, e.g. "
            "judge:gpt-4o-mini) or judge:MODEL@URL (e.g. judge:Qwen2.5-72B-Instruct@http://vllm:8000/v1)"
        )
    return m["model"].strip(), m["url"]


def make_judge(spec: str, config: JudgeConfig | None = None) -> Judge:
    """The judge for `judge:ALIAS` | `judge:MODEL@URL`: its key from the alias's env var and its endpoint
    checked now (as for a policy), CriticUnavailable (one line) when it cannot be had."""
    from agent.policies import PolicyError, make_policy

    config = config or JudgeConfig()
    model, url = parse_spec(spec)
    try:
        policy = make_policy(model, base_url=url)
        if hasattr(policy, "create"):
            policy.probe()
    except PolicyError as e:
        raise CriticUnavailable(f"--critic {spec}: {e}") from e
    spec_of = getattr(policy, "spec", None)
    context = getattr(spec_of, "context_tokens", None) or getattr(policy, "context_tokens", None)
    if hasattr(policy, "create"):  # an OpenAI-compatible endpoint
        tokenizer = _tokenizer(config.tokenizer) if config.tokenizer else None
        return APIJudge(policy, config, _prompts(config, tokenizer, context))
    if hasattr(policy, "model") and hasattr(policy, "tokenizer"):  # transformers in-process
        return LocalJudge(policy, config, _prompts(config, policy.tokenizer, context))
    raise CriticUnavailable(
        f"--critic {spec}: the judge's backend must be an OpenAI-compatible endpoint or a local model"
    )


def _prompts(config: JudgeConfig, tokenizer: Any | None, context: int | None) -> JudgePrompts:
    """The prompts with their budget: tokens where the tokenizer is known, else characters."""
    if tokenizer is not None:
        limit = config.max_tokens or (context - ANSWER_ROOM if context else DEFAULT_TOKEN_BUDGET)

        def count(text: str) -> int:
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])

        return JudgePrompts(config, count, limit, "tokens")
    limit = config.max_chars or (CHARS_PER_TOKEN * context if context else DEFAULT_CHAR_BUDGET)
    return JudgePrompts(config, len, limit, "characters")


def _tokenizer(folder: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(folder)
    except Exception as e:  # noqa: BLE001 -- any loading failure is a setup error, said in one line
        raise CriticUnavailable(f"judge.tokenizer {folder!r} cannot be loaded: {e}") from e
