"""`swe-search experiment`: the paper's pipeline as one resumable command.

config.ExperimentConfig  flags + overrides + experiment.yaml
  -> phases.Experiment   per seed: collect (eval.batch) -> train (critic train) -> evaluate
                         (three eval.batch pools), each phase folder named in layout
  -> report              experiment.json from the phase folders (eval.report's statistics)
       -> render         experiment.md and plots/
cli                      the command's arguments and its printed table
"""
