"""Reports of run folders (read through eval.batch.records; no docker, no model):

run folder -> run_report.build_report -> report.json
              (selection_stats: select@n / random / oracle over a run's select runs)
           -> run_report.render_markdown -> report.md   (markdown.table)
           -> run_report.write_plots     -> plots/      (plots: a plots/ folder, the Q-by-step plot)
bootstrap       intervals over tasks and runs, for the experiment's report (eval.experiment.report),
                which draws with the same plots and tables
"""
