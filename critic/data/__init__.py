"""Where the critic's training data comes from, each source one module, all yielding Episodes:

sources    which format a --data source is, and its Episodes (the entry point)
runs       run folders of swe-search (trajectory + grade) and nebius exports -> Episode
mini_swe_agent  mini-swe-agent run folders (<id>/<id>.traj.json, preds.json, a grading result)
chat       OpenAI chat messages (tool calls rendered as actions); JSONL of {messages, resolved}
responses  Responses-API rollouts (message, function_call, function_call_output items; reward)
prepared   Episodes serialized into training windows, each rank a share, cached
synthetic  seeded made-up trajectories (tests, benchmarks)
"""
