"""archlab.budget.match_scale: the shared width-to-budget matcher."""
import math

import pytest

from archlab.budget import match_scale


def test_finds_the_root_of_a_monotone_cost():
    s = match_scale(lambda s: 1000 * s ** 2, 2250.0, 0.25, 4.0, xtol=1e-9)
    assert math.isclose(s, 1.5, abs_tol=1e-8)


def test_a_step_cost_gives_the_step_within_xtol():
    s = match_scale(lambda s: float(round(16 * s)), 11.8, 0.25, 4.0, xtol=1e-7)  # 11 -> 12 at s = 11.5 / 16
    assert abs(s - 11.5 / 16) <= 1e-6


def test_a_budget_at_an_end_of_the_bracket_is_that_end():
    assert match_scale(lambda s: s, 0.25, 0.25, 4.0, xtol=1e-6) == 0.25
    assert match_scale(lambda s: s, 4.0, 0.25, 4.0, xtol=1e-6) == 4.0


@pytest.mark.parametrize("budget", [10.0, 20_000.0])
def test_refuses_a_budget_outside_the_bracket_naming_it_and_the_range(budget):
    with pytest.raises(ValueError) as err:
        match_scale(lambda s: 1000 * s, budget, 0.25, 4.0, xtol=1e-6)
    msg = str(err.value)
    assert f"{budget:.6g}" in msg and "250 to 4000" in msg and "0.25 to 4" in msg


def test_clip_answers_the_nearer_end_instead():
    assert match_scale(lambda s: 1000 * s, 10.0, 0.25, 4.0, xtol=1e-6, clip=True) == 0.25
    assert match_scale(lambda s: 1000 * s, 20_000.0, 0.25, 4.0, xtol=1e-6, clip=True) == 4.0
