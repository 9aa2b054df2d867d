"""A batch run (`swe-search run` / `swe-search eval`), in the order a run's config travels:

config.RunConfig  flags + overrides + run.yaml
  -> prepare.prepare      folder lock, resume check, tasks (preflight: host and gradability),
                          policy and critic: everything that can fail before a container starts
  -> run.run_batch        a runner.Runner over the tasks, its pool from runner.make_pool:
       pool.ThreadPool | ray_pool.RayPool   (both speak executor.Pool/Host, the one seam)
         -> executor.attempt -> instance.SolveAndGrade   one instance: solve, then grade
            (watchdog: its deadline)
  -> records              done.json per instance, preds.jsonl, events.jsonl: the run folder
"""
