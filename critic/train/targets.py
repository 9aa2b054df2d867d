"""TD(lambda) targets for the critic.

A trajectory with T agent turns has values v_0..v_{T-1}: Q(s_t, a_t), read at the marker after
turn t. The reward is 0 after every turn except the last, which gets the terminal reward R (1 if
the patch resolves the task, else 0); the state after the last turn is terminal (value 0). So

    G_{T-1} = R
    G_t     = gamma * ((1 - lam) * v_{t+1} + lam * G_{t+1})        for t < T-1

lam = 0 is one-step TD (G_t = gamma * v_{t+1}); lam = 1 is Monte Carlo (G_t = gamma^(T-1-t) * R).
During training the values come from the model being trained, recomputed each epoch.
"""

from __future__ import annotations


def td_lambda_targets(
    values: list[float], reward: float, gamma: float = 1.0, lam: float = 0.7
) -> list[float]:
    """lambda-returns for each agent turn, given the current value estimates and the terminal reward."""
    if not 0.0 <= gamma <= 1.0 or not 0.0 <= lam <= 1.0:
        raise ValueError(f"gamma and lambda must lie in [0, 1], got gamma={gamma}, lambda={lam}")
    n = len(values)
    if n == 0:
        return []
    targets = [0.0] * n
    targets[-1] = float(reward)
    for t in range(n - 2, -1, -1):
        targets[t] = gamma * ((1.0 - lam) * values[t + 1] + lam * targets[t + 1])
    return targets


def monte_carlo_returns(n: int, reward: float, gamma: float = 1.0) -> list[float]:
    """gamma^(T-1-t) * R for each of the n turns (td_lambda_targets with lam=1)."""
    return [float(reward) * gamma ** (n - 1 - t) for t in range(n)]
