"""Search settings: which strategy, how wide, how to select, and how much it may spend."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.configfile import CONFIG_DIR, FileConfig
from agent.registry import is_import_path

CHOOSERS: dict[str, str] = {
    "greedy": "search.lookahead.greedy_step",
    "lookahead": "search.lookahead.lookahead_step",
}
"""The step part of a strategy -> a factory `(config, critic, budget) -> StepChooser` (search.solve.
make_chooser). A strategy is `STEP`, `STEP+select` (N runs of it, then selection) or `select`
(= `greedy+select`); STEP may also be the full import path of your own factory
(`search.strategy=mypkg.steps.make+select`)."""
Rule = Literal["final_q", "mean_q", "random"]
TieBreak = Literal["first", "count"]


class MissingCritic(ValueError):
    """A strategy that needs Q values was asked to run without a critic."""


DEFAULTS_PATH = CONFIG_DIR / "strategies.yaml"


class BudgetConfig(BaseModel):
    """Per-instance limits shared by all N runs and all K samples. None means unlimited."""

    model_config = ConfigDict(extra="forbid")

    policy_tokens: int | None = Field(
        None,
        description="Most policy tokens over all runs and samples: each request's prompt once (K "
        "candidates of one request share it) plus every sample's completion tokens.",
    )
    cost: float | None = Field(
        None, description="Most cost in USD over all runs and samples: the policy's and an LLM judge's."
    )
    critic_calls: int | None = Field(None, description="Most critic requests (one batched score = one call).")
    wall_time: float | None = Field(None, description="Most seconds of wall time from the first run's start.")


class SearchConfig(FileConfig):
    """How one instance is solved. Defaults live in configs/strategies.yaml.

    The home of the sampling temperature: `temperature` for every strategy that samples to choose
    (lookahead candidates, select runs), `greedy_temperature` for a single greedy run. The CLI's
    --temperature sets both, so it applies whatever the strategy.
    """

    model_config = ConfigDict(extra="forbid")
    DEFAULTS = DEFAULTS_PATH
    WHAT = "search config"

    strategy: str = Field(
        "greedy",
        description="greedy | lookahead (K candidates per step) | select (best of N runs) | lookahead+select; "
        "the step part may be the import path of your own chooser factory (search.config.CHOOSERS).",
    )
    k: int = Field(4, ge=1, description="Lookahead: candidate actions sampled per step (one policy call).")
    temperature: float = Field(
        0.9, ge=0.0, description="Lookahead and select: sampling temperature of the K candidates and N runs."
    )
    greedy_temperature: float | None = Field(
        0.0,
        ge=0.0,
        description="A single greedy run's sampling temperature (0: the likeliest reply); None: the policy's.",
    )
    n: int = Field(5, ge=1, description="Select: independent runs, each in its own container.")
    rule: Rule = Field(
        "final_q",
        description="Select: final_q (Q of the submit action, the paper's rule), mean_q (mean chosen Q), "
        "or random (seeded; an ablation).",
    )
    tie_break: TieBreak = Field(
        "first",
        description="Lookahead ties on Q: 'first' (first sampled; a constant critic then equals greedy) "
        "or 'count' (most sampled, then first).",
    )
    concurrency: int = Field(5, ge=1, description="Select: runs executed at the same time.")
    seed: int = Field(0, description="Seed for the random selection rule.")
    budget: BudgetConfig = Field(default_factory=BudgetConfig, description="Limits over all N x K work.")

    @field_validator("strategy")
    @classmethod
    def _known_step(cls, v: str) -> str:
        step = "greedy" if v == "select" else v.removesuffix("+select")
        if step not in CHOOSERS and not is_import_path(step):
            raise ValueError(
                f"unknown strategy {v!r}: STEP or STEP+select, STEP one of {', '.join(CHOOSERS)} or an "
                "import path pkg.module.factory; or select"
            )
        return v

    @property
    def step(self) -> str:
        """How one run chooses each action: a CHOOSERS name or an import path."""
        return "greedy" if self.strategy == "select" else self.strategy.removesuffix("+select")

    @property
    def uses_lookahead(self) -> bool:
        return self.step == "lookahead"

    @property
    def uses_select(self) -> bool:
        return self.strategy == "select" or self.strategy.endswith("+select")

    @property
    def critic_needed(self) -> str | None:
        """Why this strategy needs a critic (lookahead, or selection by final_q), or None."""
        if self.uses_lookahead:
            return f"strategy {self.strategy!r} needs a critic"
        if self.uses_select and self.rule == "final_q":
            return "selection by final_q needs a critic"
        return None

    def check_critic(self, critic: object | None) -> None:
        """Raise MissingCritic, saying what to pass, when the strategy needs a critic and has none."""
        need = self.critic_needed
        if need and critic is None:
            rule = ", or --rule random" if not self.uses_lookahead else ""
            raise MissingCritic(f"{need}: pass --critic judge:MODEL|URL|PATH|tiny{rule}")

    @property
    def runs(self) -> int:
        """How many independent runs this strategy makes."""
        return self.n if self.uses_select else 1
