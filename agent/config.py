"""Agent configuration: limits and prompt templates, with defaults in configs/agent.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.configfile import CONFIG_DIR, FileConfig, deep_merge, read_config_file, read_yaml

DEFAULT_AGENT_YAML = CONFIG_DIR / "agent.yaml"


def _default_templates() -> Templates:
    return Templates.model_validate(read_yaml(DEFAULT_AGENT_YAML).get("templates", {}))


class Templates(BaseModel):
    """The Jinja2 prompt templates of the scaffold."""

    model_config = ConfigDict(extra="forbid")

    system: str = Field(
        description="System prompt: the tools, the reply format, the workflow. Gets `window`."
    )
    instance: str = Field(
        description="First user message. Gets `problem_statement`, `workdir`, `instance_id`."
    )
    next_step: str = Field(
        description="User message after each command. Gets `observation`, `exit_code`, `timed_out`, `cwd`, `current_file`."
    )
    format_error: str = Field(description="User message after a reply that does not parse. Gets `error`.")


class AgentConfig(FileConfig):
    """Limits and prompts of one agent run. Defaults come from configs/agent.yaml.

    The sampling temperature is the search's (search.config.SearchConfig), not the agent's.
    """

    model_config = ConfigDict(extra="forbid")
    DEFAULTS = DEFAULT_AGENT_YAML
    WHAT = "agent config"

    step_limit: int = Field(80, ge=1, description="Maximum number of agent turns (format errors count).")
    cost_limit: float | None = Field(
        3.0,
        description="Stop once the run has cost this many USD (policy and LLM-judge calls); 0 or None disables.",
    )
    context_tokens: int = Field(
        128_000, ge=1, description="Stop when the next prompt is estimated to exceed this many tokens."
    )
    wall_time: float = Field(3600.0, gt=0, description="Wall-clock limit of the whole run, in seconds.")
    command_timeout: float = Field(
        180.0, gt=0, description="Timeout of one command in the container, in seconds."
    )
    max_format_errors: int = Field(
        3, ge=1, description="End the run after this many consecutive replies that fail to parse."
    )
    observation_chars: int = Field(
        12_000, ge=200, description="Observations longer than this are cut in the middle, with a note."
    )
    window: int = Field(
        100, ge=5, description="Lines shown by `open`, `goto`, the scroll commands and edits."
    )
    install_tools: bool = Field(True, description="Install the scaffold's tools into the container at start.")
    templates: Templates = Field(default_factory=_default_templates, description="The prompt templates.")

    @classmethod
    def read(cls, path: Path | None = None) -> dict[str, Any]:
        """configs/agent.yaml, with `path` (a partial file: some limits, one template) merged over it."""
        defaults = read_config_file(DEFAULT_AGENT_YAML)
        return deep_merge(defaults, read_config_file(path)) if path else defaults
