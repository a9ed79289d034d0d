"""res_2s arithmetic: RK coefficients, the SDE step and its standardised noise."""

import math

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.components.res2s import res2s_coefficients, sde_step, standardized_noise, with_terminal_sigma


def test_coefficients_match_the_phi_functions():
    a21, b1, b2 = res2s_coefficients(1.0)
    assert a21 == pytest.approx(0.5 * (1 - math.exp(-0.5)) / 0.5)
    assert b2 == pytest.approx(math.exp(-1.0) / 0.5)  # phi_2(-1) = (e^-1 - 1 + 1) / 1
    assert b1 == pytest.approx((1 - math.exp(-1.0)) - b2)
    # A vanishing step is the midpoint rule: the second evaluation carries all the weight.
    assert res2s_coefficients(1e-12) == pytest.approx((0.5, 0.0, 1.0))


def test_terminal_sigma_replaces_a_final_zero():
    assert with_terminal_sigma((1.0, 0.5, 0.0)) == (1.0, 0.5, 0.0011, 0.0)
    assert with_terminal_sigma((1.0, 0.5)) == (1.0, 0.5)


def test_sde_step_lands_on_the_next_noise_level():
    rng = np.random.default_rng(0)
    clean = mx.array(rng.standard_normal((1, 4096, 8)).astype(np.float32))
    noise_a = mx.array(rng.standard_normal((1, 4096, 8)).astype(np.float32))
    noise_b = mx.array(rng.standard_normal((1, 4096, 8)).astype(np.float32))
    sigma, sigma_next = 0.8, 0.5
    sample = (1 - sigma) * clean + sigma * noise_a
    target = (1 - sigma_next) * clean + sigma_next * noise_a  # the deterministic (ODE) next point
    out = np.array(sde_step(sample, target, sigma, sigma_next, noise_b, eta=0.5))
    # Still (1 - sigma_next) clean + noise of std sigma_next: part old noise, part fresh noise.
    resid = out - (1 - sigma_next) * np.array(clean)
    assert resid.std() == pytest.approx(sigma_next, rel=0.03)
    fresh = np.corrcoef(resid.ravel(), np.array(noise_b).ravel())[0, 1] * resid.std()
    assert fresh == pytest.approx(0.5 * sigma_next, rel=0.05)
    np.testing.assert_array_equal(np.array(sde_step(sample, target, sigma, 0.0, noise_b)), np.array(target))


def test_standardized_noise_per_item():
    raw = mx.array(np.random.default_rng(1).normal(3.0, 2.0, (2, 50, 8)).astype(np.float32))
    x = np.array(standardized_noise(raw))
    for item in x:
        assert abs(item.mean()) < 1e-5 and item.std(ddof=1) == pytest.approx(1.0, abs=1e-5)
