"""Reports of run folders (read through eval.batch.records; no docker, no model):

run_report      `swe-search report`: report.json/report.md/plots of one run folder
selection_stats the selection metrics of a run's select runs (select@N, random@N, oracle@N)
bootstrap       intervals over tasks and runs, used by the experiment's report
"""
