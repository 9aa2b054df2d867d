"""Trajectory -> tokens, with a value marker after every agent turn.

Layout (one message = one *segment* of tokens, rendered by the backbone's chat template):

    [system][issue]  [assistant 1 <|value|>][obs 1]  [assistant 2 <|value|>][obs 2] ...
    `---- head ----'  `------- turn group 1 ------'  `------- turn group 2 ------'

The critic's Q for agent turn t is read at the marker token right after that turn. Scoring a
candidate appends it as the last assistant segment and reads its marker.

Segments are tokenized one at a time, so the tokens of a history are always a prefix of the
tokens of any longer history: this is what makes prefix sharing and session caching exact.

Truncation rule (the same in training and serving): the head (every message up to and including
the first user message, i.e. the system prompt and the issue) is always kept; whole turn groups
(an assistant turn plus the observations after it) are dropped oldest first until the head, the
kept groups and the scored (last) assistant turn fit in `max_tokens`. If the head plus the last
turn alone do not fit, `ContextTooLong` is raised.

Compression (`Compression`, off by default): each message's content longer than `head + tail`
characters (plus the cut mark) keeps only its first `head` and last `tail` characters, joined by
`CUT_MARK`; candidates too, as the assistant turns they become. A small critic then reads a run's
outcome signal (a repro's traceback and exit code, at the end of an observation) near the marker,
instead of behind hundreds of tokens of file views. The rule is saved with the checkpoint
(`config.json` key `critic_compression`, see `compression_from_config`), so every scorer applies
the rule the critic was trained with.

The text of the marker and of every other special token (`<|value|>`, `<|im_end|>`, ...) inside a
message or candidate is broken up (`< |value|>`) before tokenizing: text a run reads from a
repository must yield neither marker tokens nor fake turn boundaries.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from agent.types import Message

VALUE_TOKEN = "<|value|>"
"""The marker token added to the backbone's tokenizer; the critic's value is read there."""

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""Chat template for tokenizers that have none (tiny test tokenizers)."""


CUT_MARK = "\n[...]\n"
"""What stands for the middle of a message that compression cut out (always the same text)."""

CONFIG_KEY = "critic_compression"
"""The checkpoint config.json key holding the compression rule (`Compression.to_config`)."""


class SerializeError(ValueError):
    """A history that cannot be turned into critic input."""


class ContextTooLong(SerializeError):
    """Even the head plus the scored turn exceed the context limit."""


OPTIONAL_KEYS = ("drop", "action_head", "action_tail")
"""Compression settings a checkpoint's config.json carries only when they are set."""


@dataclass(frozen=True)
class Compression:
    """Remove what `drop` matches, then keep the first `head` and last `tail` characters of every
    message's content."""

    head: int
    tail: int
    drop: str | None = None
    """A regular expression (multiline) whose matches are removed first, e.g. the scaffold's status
    line: it names the repository's files next to the marker, which a small critic memorises."""
    action_head: int | None = None
    """`head` for the agent's own turns (assistant messages and candidates); None: `head`."""
    action_tail: int | None = None
    """`tail` for the agent's own turns; None: `tail`. `action_tail: 0` keeps an action's thought and
    the start of its command but not an edit's code, which a small critic would learn by heart."""

    def __post_init__(self) -> None:
        for head, tail in ((self.head, self.tail), self._action_cut()):
            if head < 0 or tail < 0 or head + tail == 0:
                raise SerializeError(
                    f"compression needs head >= 0, tail >= 0 and head + tail > 0 (got {head}, {tail})"
                )
        if self.drop is not None:
            try:
                self._dropped  # noqa: B018 - compiles once, here, so a bad pattern fails at load
            except re.error as e:
                raise SerializeError(
                    f"compression drop {self.drop!r} is not a regular expression: {e}"
                ) from e

    @cached_property
    def _dropped(self) -> re.Pattern[str]:
        return re.compile(self.drop or "", re.M)

    def _action_cut(self) -> tuple[int, int]:
        return (
            self.head if self.action_head is None else self.action_head,
            self.tail if self.action_tail is None else self.action_tail,
        )

    def apply(self, content: str, role: str = "user") -> str:
        """`content` of a message of `role` as the critic reads it."""
        if self.drop:
            content = self._dropped.sub("", content)
        head, tail = self._action_cut() if role == "assistant" else (self.head, self.tail)
        if len(content) <= head + tail + len(CUT_MARK):
            return content
        return content[:head] + CUT_MARK + (content[-tail:] if tail else "")

    def to_config(self) -> dict[str, Any]:
        optional = {k: getattr(self, k) for k in OPTIONAL_KEYS}
        return {"head": self.head, "tail": self.tail, **{k: v for k, v in optional.items() if v is not None}}


def compression_from_config(config: Any) -> Compression | None:
    """The rule a checkpoint was trained with, from its config (a dict such as config.json, or a
    transformers config); None when it has none (whole messages)."""
    raw = config.get(CONFIG_KEY) if isinstance(config, dict) else getattr(config, CONFIG_KEY, None)
    if raw is None:
        return None
    if not isinstance(raw, dict) or not {"head", "tail"} <= raw.keys():
        raise SerializeError(f"{CONFIG_KEY} must be {{'head': int, 'tail': int}}, got {raw!r}")
    optional = {k: raw[k] for k in OPTIONAL_KEYS if raw.get(k) is not None}
    return Compression(int(raw["head"]), int(raw["tail"]), **optional)


@dataclass
class Encoded:
    """Token ids of one (possibly truncated) window of a trajectory.

    `markers[i]` is the position of the value marker of agent turn `turns[i]` (turns are counted
    over the whole trajectory, from 0). `dropped` is the number of turn groups cut out.
    """

    ids: list[int]
    markers: list[int] = field(default_factory=list)
    turns: list[int] = field(default_factory=list)
    dropped: int = 0


@dataclass
class ScoringInput:
    """Tokens for scoring K candidates after one history: `history + candidates[k]` is sequence k."""

    history: list[int]
    candidates: list[list[int]]
    dropped: int = 0


class Serializer:
    """Turns chat messages into critic tokens. Thread-safe for reads; keeps a small token cache."""

    def __init__(
        self,
        tokenizer: Any,
        max_tokens: int = 32768,
        value_token: str = VALUE_TOKEN,
        cache_size: int = 4096,
        compression: Compression | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.compression = compression
        self.max_tokens = max_tokens
        self.value_token = value_token
        self.marker_id = tokenizer.convert_tokens_to_ids(value_token)
        if self.marker_id is None or self.marker_id == tokenizer.unk_token_id:
            raise SerializeError(
                f"tokenizer has no {value_token!r} token; build the critic with critic.model.build_critic"
            )
        specials = {value_token, *tokenizer.all_special_tokens}
        specials |= {t.content for t in tokenizer.added_tokens_decoder.values() if t.special}
        # longest first, so that a special token containing another is broken up whole
        ordered = sorted((t for t in specials if len(t) > 1), key=len, reverse=True)
        self._specials = re.compile("|".join(map(re.escape, ordered)))
        self._cache: OrderedDict[str, tuple[int, ...]] = OrderedDict()
        self._texts_cache: OrderedDict[int, str] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    # -- text ---------------------------------------------------------------------------------
    def _render(self, messages: list[Message]) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False)
        return "".join(_chatml(m) for m in messages)

    def texts(self, messages: list[Message]) -> list[str]:
        """One rendered text per message (see `_texts`)."""
        return self._texts(messages)[0]

    def _texts(self, messages: list[Message]) -> tuple[list[str], bool]:
        """Rendered text per message, by differencing renders of growing prefixes, and whether the
        template was prefix-stable. Falls back to ChatML when it is not (e.g. it rewrites old turns).

        Texts are cached by a hash chain over the prefix, so a history that extends an earlier one
        (the next step of a run) renders only its new messages.
        """
        _check_messages(messages)
        messages = [{**m, "content": self._prepare(m["content"], m["role"])} for m in messages]
        out: list[str] = []
        prev: str | None = ""
        key = 0
        keys = []
        for i, m in enumerate(messages):
            key = hash((key, m["role"], m["content"]))
            keys.append(key)
            with self._lock:
                hit = self._texts_cache.get(key)
                if hit is not None:
                    self._texts_cache.move_to_end(key)
            if hit is not None:
                out.append(hit)
                prev = None
                continue
            if prev is None:
                prev = "".join(out)
            text = self._render(messages[: i + 1])
            if not text.startswith(prev):
                return [_chatml(m) for m in messages], False
            out.append(text[len(prev) :])
            prev = text
        with self._lock:
            for k, t in zip(keys, out, strict=True):
                self._texts_cache[k] = t
            while len(self._texts_cache) > self._cache_size:
                self._texts_cache.popitem(last=False)
        return out, True

    def _prepare(self, content: str, role: str) -> str:
        """A message's content as the critic reads it: compressed (when configured), then defused."""
        return self._defuse(self.compression.apply(content, role) if self.compression else content)

    def _defuse(self, content: str) -> str:
        """`content` with the text of special tokens broken up (`< |im_end|>`), so that only the
        serializer and the chat template place markers and turn boundaries."""
        return self._specials.sub(lambda m: f"{m[0][0]} {m[0][1:]}", content)

    def _tokens(self, text: str) -> tuple[int, ...]:
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        ids = tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        with self._lock:
            self._cache[text] = ids
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return ids

    def segments(self, messages: list[Message], texts: list[str] | None = None) -> list[list[int]]:
        """Token ids per message; assistant segments end with the marker."""
        segs = []
        for msg, text in zip(messages, texts if texts is not None else self.texts(messages), strict=True):
            ids = list(self._tokens(text))
            if msg["role"] == "assistant":
                ids.append(self.marker_id)
            segs.append(ids)
        return segs

    # -- structure ------------------------------------------------------------------------------
    @staticmethod
    def split(messages: list[Message]) -> tuple[int, list[list[int]]]:
        """(head length, groups of message indices). Each group after the first starts at an assistant turn."""
        users = [i for i, m in enumerate(messages) if m["role"] == "user"]
        firsts = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        head = (
            users[0] + 1 if users and (not firsts or users[0] < firsts[0]) else (firsts[0] if firsts else 0)
        )
        groups: list[list[int]] = []
        for i in range(head, len(messages)):
            if messages[i]["role"] == "assistant" or not groups:
                groups.append([i])
            else:
                groups[-1].append(i)
        return head, groups

    def _keep_from(self, head_len: int, group_lens: list[int], tail_len: int) -> int:
        """Index of the first group kept so that head + groups[start:] + tail fits (`keep_from`)."""
        return keep_from(head_len, group_lens, tail_len, self.max_tokens)

    # -- scoring ----------------------------------------------------------------------------------
    def for_scoring(self, history: list[Message], candidates: list[str]) -> ScoringInput:
        """History tokens (truncated so that it plus the longest candidate fit) and candidate tokens."""
        if not candidates:
            raise SerializeError("no candidates to score")
        if not history:
            raise SerializeError("the history is empty; it needs at least the issue")
        if not all(isinstance(c, str) for c in candidates):
            raise SerializeError("candidates must be strings")
        for k, c in enumerate(candidates):
            check_text(c, f"candidate {k}")
        texts, stable = self._texts(history)
        # as `_texts` saw it
        history = [{**m, "content": self._prepare(m["content"], m["role"])} for m in history]
        segs = self.segments(history, texts)
        base = "".join(texts)
        cands = [
            [*self._tokens(t), self.marker_id]
            for t in self._candidate_texts(history, base, stable, candidates)
        ]
        head, groups = self.split(history)
        head_len = sum(len(segs[i]) for i in range(head))
        lens = [sum(len(segs[i]) for i in g) for g in groups]
        start = self._keep_from(head_len, lens, max(len(c) for c in cands))
        ids = [t for i in range(head) for t in segs[i]]
        ids += [t for g in groups[start:] for i in g for t in segs[i]]
        return ScoringInput(history=ids, candidates=cands, dropped=start)

    def _candidate_texts(
        self, history: list[Message], base: str, stable: bool, candidates: list[str]
    ) -> list[str]:
        """Each candidate rendered as the next assistant turn. Renders a placeholder once and substitutes
        the candidate when the template inserts content verbatim (checked on the first candidate)."""
        candidates = [self._prepare(c, "assistant") for c in candidates]
        if not stable:
            return [_chatml({"role": "assistant", "content": c}) for c in candidates]

        def render(content: str) -> str:
            full = self._render([*history, {"role": "assistant", "content": content}])
            return (
                full[len(base) :]
                if full.startswith(base)
                else _chatml({"role": "assistant", "content": content})
            )

        first = render(candidates[0])
        shape = render(_PLACEHOLDER)
        verbatim = shape.count(_PLACEHOLDER) == 1 and shape.replace(_PLACEHOLDER, candidates[0]) == first
        rest = [shape.replace(_PLACEHOLDER, c) if verbatim else render(c) for c in candidates[1:]]
        return [first, *rest]

    # -- training ---------------------------------------------------------------------------------
    def windows(self, messages: list[Message]) -> list[Encoded]:
        """Windows that together carry every agent turn's marker exactly once, last window first.

        The last window is what serving would see when scoring the final turn. Earlier windows end at
        the turn just before the previous window's first kept group. When everything fits (the usual
        case) there is exactly one window. The observation after the final turn is left out: no
        marker reads it.
        """
        segs = self.segments(messages)
        head, groups = self.split(messages)
        head_ids = [t for i in range(head) for t in segs[i]]
        turn_of = {}
        for g in groups:
            if messages[g[0]]["role"] == "assistant":
                turn_of[g[0]] = len(turn_of)
        lens = [sum(len(segs[i]) for i in g) for g in groups]
        out: list[Encoded] = []
        end = max((j for j, g in enumerate(groups) if g[0] in turn_of), default=-1)
        while end >= 0:
            if groups[end][0] not in turn_of:
                end -= 1
                continue
            tail = segs[groups[end][0]]
            start = self._keep_from(len(head_ids), lens[:end], len(tail))
            enc = Encoded(ids=list(head_ids), dropped=start)
            for j in range(start, end + 1):
                members = groups[j] if j < end else groups[j][:1]
                for i in members:
                    enc.ids += segs[i]
                    if i in turn_of:
                        enc.markers.append(len(enc.ids) - 1)
                        enc.turns.append(turn_of[i])
            out.append(enc)
            end = start - 1 if start < end else end - 1
        return out

    def encode(self, messages: list[Message]) -> Encoded:
        """The last window only: what scoring the final turn sees."""
        wins = self.windows(messages)
        if not wins:
            raise SerializeError("the trajectory has no assistant turn")
        return wins[0]


def keep_from(head_len: int, group_lens: list[int], tail_len: int, limit: int, unit: str = "tokens") -> int:
    """The truncation rule: the index of the first turn group kept so that the head, the groups from
    there on and the scored turn (`tail_len`) fit in `limit`; whole groups are dropped oldest first.
    Lengths may be tokens or characters (`unit`, for the message); ContextTooLong when even the head
    and the tail alone do not fit. Every critic cuts long histories with it (the LLM judge too)."""
    budget = limit - head_len - tail_len
    if budget < 0:
        raise ContextTooLong(
            f"the system prompt and issue ({head_len} {unit}) plus the scored turn ({tail_len} {unit}) "
            f"exceed the critic's context of {limit} {unit}"
        )
    start, total = len(group_lens), 0
    while start > 0 and total + group_lens[start - 1] <= budget:
        start -= 1
        total += group_lens[start]
    return start


_PLACEHOLDER = "\x00critic-candidate\x00"


def _chatml(message: Message) -> str:
    return f"<|im_start|>{message['role']}\n{message['content']}<|im_end|>\n"


def check_text(text: str, what: str) -> str:
    """`text` if it can be encoded as UTF-8, else SerializeError. JSON can carry lone surrogates
    (`"\\ud800"`) that no tokenizer accepts; they are refused here, not failed on deep inside."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise SerializeError(
            f"{what} is not valid Unicode text (a lone surrogate at character {e.start})"
        ) from None
    return text


def _check_messages(messages: list[Message]) -> None:
    for i, m in enumerate(messages):
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("role"), str)
            or not isinstance(m.get("content"), str)
        ):
            raise SerializeError(f"message {i} must be a dict with string 'role' and 'content'")
        check_text(m["content"], f"message {i}")
