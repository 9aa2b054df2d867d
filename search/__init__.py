"""Search strategies over the agent: greedy, 1-step lookahead, trajectory selection, and budgets.

- `search.config.SearchConfig`      strategy, K, T, N, rule, concurrency, seed, budget (configs/strategies.yaml)
- `search.lookahead.LookaheadChooser`  K samples, one batched critic call, argmax Q; never rolls back;
                                    `greedy_chooser` is K=1 without a critic, charged to the budget
                                    (the baseline; agent.loop.GreedyChooser is the same without a budget)
- `search.select.select`            N independent runs (any `run_once(i) -> RunOutcome`), pick one by rule;
                                    the selection facts (preferred run, ranking, missing Q, mean_q)
- `search.budget.Budget`            per-instance limits shared by all N x K work; raises BudgetExhausted
- `search.solve.solve`              one task end to end: containers, agent runs, selection.json
"""
