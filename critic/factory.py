"""The critic for `--critic`: a registry of short names, as mini-swe-agent does for its models.

`--critic SPEC` picks a factory by the name before the first ':' (a URL's scheme counts as one):
`const:V`, `http://...` and `https://...` (comma-separated replicas), `vllm+http://...`, `tiny`,
`judge:ALIAS` | `judge:MODEL@URL` (an LLM judge: a model alias of configs/models.yaml, or any model
served at an OpenAI-compatible URL; critic.clients.judge); a checkpoint folder is a LocalCritic; `none` (or
nothing) means no critic. Any other name that is a
full import path is your own factory: `--critic mypkg.critics.make:arg` calls
`mypkg.critics.make("mypkg.critics.make:arg", out)`. A factory takes `(spec, out)` (the whole spec
and the run folder) and returns a Critic (critic.protocol).
"""

from __future__ import annotations

from pathlib import Path

from agent.registry import UnknownName, is_import_path, lookup
from agent.types import Message
from critic.config import JudgeConfig
from critic.errors import CriticUnavailable
from critic.protocol import Critic

CRITICS: dict[str, str] = {
    "const": "critic.factory.constant_critic",
    "http": "critic.factory.http_critic",
    "https": "critic.factory.http_critic",
    "vllm+http": "critic.factory.vllm_critic",
    "vllm+https": "critic.factory.vllm_critic",
    "tiny": "critic.factory.tiny_critic",
    "judge": "critic.factory.judge_critic",
}
"""Short name -> factory `(spec, out) -> Critic`; a full import path is accepted too."""


class ConstantCritic:
    """Q = `value` for every candidate: lookahead then equals greedy (a testing aid, `--critic const:0.5`)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def score(self, history: list[Message], candidates: list[str]) -> list[float]:
        return [self.value] * len(candidates)


def make_critic(spec: str | None, out: Path, judge: JudgeConfig | None = None) -> Critic | None:
    """The critic for `--critic` (see the module's docstring); CriticUnavailable when it cannot be had.

    `judge` (a run config's `judge:` section) sets the prompts and scoring of a `judge:` critic."""
    if spec in (None, "", "none"):
        return None
    name = spec.split(":", 1)[0]
    path = Path(spec).expanduser()
    if name not in CRITICS and path.is_dir():
        return checkpoint_critic(spec, out)
    if name not in CRITICS and not is_import_path(name):
        raise CriticUnavailable(
            f"--critic {spec!r} is neither an http(s) URL, a checkpoint folder, 'tiny', 'const:V', "
            "judge:MODEL nor the import path of a critic factory"
        )
    try:
        factory = lookup(name, CRITICS, "critic")
    except UnknownName as e:
        raise CriticUnavailable(str(e)) from e
    if name == "judge":  # the one factory that takes the run config's section
        return factory(spec, out, judge)
    return factory(spec, out)


def constant_critic(spec: str, out: Path) -> Critic:
    """`const:V`: a ConstantCritic of value V."""
    return ConstantCritic(float(spec.split(":", 1)[1]))


def http_critic(spec: str, out: Path) -> Critic:
    """`http(s)://host:port[,...]`: our critic server (HTTPCritic), checked now."""
    from critic.clients.http import HTTPCritic  # httpx; imported only when used

    return _answering(HTTPCritic(spec), spec)


def vllm_critic(spec: str, out: Path) -> Critic:
    """`vllm+http://host:port?tokenizer=CKPT`: vLLM serves the checkpoint, the client tokenizes (critic.clients.vllm)."""
    from critic.clients.vllm import VLLMCritic

    return _answering(VLLMCritic.from_spec(spec), spec)


def tiny_critic(spec: str, out: Path) -> Critic:
    """`tiny`: a tiny untrained critic, made in the run folder once (needs torch: the `critic` extra)."""
    from critic.backbones import write_init
    from critic.clients.http import LocalCritic

    return LocalCritic(write_init("tiny", out / "critic-tiny"))


def checkpoint_critic(spec: str, out: Path) -> Critic:
    """A checkpoint folder: LocalCritic, in-process (needs torch: the `critic` extra)."""
    from critic.clients.http import LocalCritic

    return LocalCritic(Path(spec).expanduser())


def judge_critic(spec: str, out: Path, config: JudgeConfig | None = None) -> Critic:
    """`judge:ALIAS` | `judge:MODEL@URL`: an LLM judge (critic.clients.judge), its key and endpoint checked now."""
    from critic.clients.judge import make_judge  # jinja2, openai or torch: imported only when used

    return make_judge(spec, config)


def _answering(critic: Critic, spec: str) -> Critic:
    """`critic` once its server answers GET /health; CriticUnavailable saying how to start it otherwise."""
    try:
        critic.health()  # type: ignore[attr-defined]
    except CriticUnavailable:  # already says what to do
        raise
    except Exception as e:  # noqa: BLE001 -- any other failure here means "not answering"
        raise CriticUnavailable(
            f"critic at {spec} is not answering ({type(e).__name__}: {e}); start it with "
            "`swe-search critic serve --checkpoint DIR --port PORT`, or pass another --critic"
        ) from e
    return critic
