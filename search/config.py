"""Search settings: which strategy, how wide, how to select, and how much it may spend."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.configfile import CONFIG_DIR, FileConfig

Strategy = Literal["greedy", "lookahead", "select", "lookahead+select"]
Rule = Literal["final_q", "mean_q", "random"]
TieBreak = Literal["first", "count"]


class MissingCritic(ValueError):
    """A strategy that needs Q values was asked to run without a critic."""


DEFAULTS_PATH = CONFIG_DIR / "strategies.yaml"


class BudgetConfig(BaseModel):
    """Per-instance limits shared by all N runs and all K samples. None means unlimited."""

    model_config = ConfigDict(extra="forbid")

    policy_tokens: int | None = Field(
        None, description="Most policy tokens (prompt + completion) over all runs and samples."
    )
    cost: float | None = Field(None, description="Most policy cost in USD over all runs and samples.")
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

    strategy: Strategy = Field(
        "greedy", description="greedy | lookahead (K candidates per step) | select (best of N runs) | both."
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

    @property
    def uses_lookahead(self) -> bool:
        return self.strategy in ("lookahead", "lookahead+select")

    @property
    def uses_select(self) -> bool:
        return self.strategy in ("select", "lookahead+select")

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
            raise MissingCritic(f"{need}: pass --critic URL|PATH|tiny{rule}")

    @property
    def runs(self) -> int:
        """How many independent runs this strategy makes."""
        return self.n if self.uses_select else 1
