"""The batch, grading through swebench, reports and plots, the experiment, and the swe-search CLI.

    eval.cli / eval.commands     the parser and entry point; each command, imported on use
      -> eval.batch              a run: config, preparation and pre-flight, the runner and its pools,
                                 one instance's work (solve and grade), the run folder, the watchdog
           -> eval.grading       swebench grading of one patch (also `tasks new`'s gold/empty check)
      -> eval.report             the run report, selection statistics, bootstrap intervals, plots
      -> eval.experiment         the paper's pipeline: config, phases (runs of eval.batch and critic
                                 training), report and rendering (through eval.report)

Layers: eval may import search, agent, envs and critic; nothing below imports eval.
"""
