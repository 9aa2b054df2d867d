"""The critic for `--critic`: a URL (checked now), a checkpoint folder, `tiny`, `const:V`, or none."""

from __future__ import annotations

from pathlib import Path

from agent.types import Message
from critic.errors import CriticUnavailable
from critic.protocol import Critic


class ConstantCritic:
    """Q = `value` for every candidate: lookahead then equals greedy (a testing aid, `--critic const:0.5`)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def score(self, history: list[Message], candidates: list[str]) -> list[float]:
        return [self.value] * len(candidates)


def make_critic(spec: str | None, out: Path) -> Critic | None:
    """The critic for `--critic`: a URL (checked now), a checkpoint folder, `tiny`, `const:V`, or none."""
    if spec in (None, "", "none"):
        return None
    if spec.startswith("const:"):
        return ConstantCritic(float(spec.split(":", 1)[1]))
    # imported here: LocalCritic and the tiny critic need torch (the optional `critic` extra)
    from critic.client import HTTPCritic, LocalCritic

    if spec.startswith(("http://", "https://", "vllm+")):
        if spec.startswith("vllm+"):  # vLLM serves the checkpoint; the client tokenizes (critic.vllm)
            from critic.vllm import VLLMCritic

            critic = VLLMCritic.from_spec(spec)
        else:
            critic = HTTPCritic(spec)
        try:
            critic.health()
        except CriticUnavailable:  # already says what to do
            raise
        except Exception as e:  # noqa: BLE001 -- any other failure here means "not answering"
            raise CriticUnavailable(
                f"critic at {spec} is not answering ({type(e).__name__}: {e}); start it with "
                "`swe-search critic serve --checkpoint DIR --port PORT`, or pass another --critic"
            ) from e
        return critic
    if spec == "tiny":
        path = out / "critic-tiny"
        if not (path / "config.json").exists():
            from critic.model import make_tiny_critic

            make_tiny_critic(path)
        return LocalCritic(path)
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise CriticUnavailable(
            f"--critic {spec!r} is neither an http(s) URL, a checkpoint folder, 'tiny' nor 'const:V'"
        )
    return LocalCritic(path)
