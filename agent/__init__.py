"""The agent: policy backends, the SWE-agent-style scaffold, the loop and the trajectory record.

- `agent.policies`   registries (BACKENDS, POLICIES), make_policy, policy_factory, typed policy errors;
                     backends in openai_compat, local, scripted
- `agent.scaffold`   parse_action / FormatError, prompts, observation format, install_tools
- `agent.tools/`     the in-container commands (open, goto, edit, replace, submit, ...): a folder that
                     Python runs (`__main__.py`) over the `swe_tools` package (files, browse, edit)
- `agent.loop`       Agent, GreedyChooser, ExitStatus (stops in `agent.stops`)
- `agent.trajectory` Trajectory, Step, atomic save/load, secret scrubbing
- `agent.config`     AgentConfig (defaults in configs/agent.yaml)
- `agent.configfile` the one config loader (FileConfig) and ConfigError; `agent.registry` short names
"""
