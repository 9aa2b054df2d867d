"""The batch, grading through swebench, reports and plots, the experiment, and the swe-search CLI.

- `eval.prepare`  everything that can fail before a container starts (folder lock, resume, tasks, policy, critic)
- `eval.runner`   the batch over a pool; `eval.pool` threads, `eval.ray_executor` Ray tasks (`--executor ray`)
- `eval.instance` one instance's work (solve and grade); `eval.batch` `run` and `eval`
- `eval.grading`  swebench grading; `eval.records` the run folder; `eval.watchdog` per-instance deadlines
- `eval.report`, `eval.selection_stats`, `eval.bootstrap`  reports; `eval.experiment*` the experiment
- `eval.cli` the parser and entry point; `eval.commands` the commands
"""
