import pytest

from critic.train.targets import monte_carlo_returns, td_lambda_targets


def test_td_lambda_matches_hand_computation():
    # G2 = R = 1; G1 = g((1-l) v2 + l G2); G0 = g((1-l) v1 + l G1)
    v = [0.2, 0.4, 0.6]
    g1 = 1.0 * (0.3 * 0.6 + 0.7 * 1.0)
    g0 = 1.0 * (0.3 * 0.4 + 0.7 * g1)
    assert td_lambda_targets(v, 1.0, gamma=1.0, lam=0.7) == pytest.approx([g0, g1, 1.0])


def test_lambda_zero_is_one_step_td():
    assert td_lambda_targets([0.1, 0.5, 0.9], 0.0, gamma=0.9, lam=0.0) == pytest.approx([0.45, 0.81, 0.0])


def test_lambda_one_is_monte_carlo():
    v = [0.3, 0.1, 0.8, 0.5]
    assert td_lambda_targets(v, 1.0, gamma=0.9, lam=1.0) == pytest.approx([0.729, 0.81, 0.9, 1.0])
    assert td_lambda_targets(v, 1.0, gamma=0.9, lam=1.0) == pytest.approx(monte_carlo_returns(4, 1.0, 0.9))


def test_gamma_below_one_with_intermediate_lambda():
    v, g, lam = [0.5, 0.2], 0.8, 0.5
    assert td_lambda_targets(v, 1.0, gamma=g, lam=lam) == pytest.approx(
        [g * ((1 - lam) * 0.2 + lam * 1.0), 1.0]
    )


def test_single_turn_and_empty():
    assert td_lambda_targets([0.3], 0.0) == [0.0]
    assert td_lambda_targets([], 1.0) == []


def test_rejects_out_of_range_parameters():
    with pytest.raises(ValueError):
        td_lambda_targets([0.1], 1.0, gamma=1.5)
