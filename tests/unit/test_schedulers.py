"""Sigma schedules: the values users see in the official pipelines."""

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from safetensors import safe_open

from ltxmlx.components.schedulers import (
    STAGE_2_DISTILLED_SIGMA_VALUES,
    FixedSigmas,
    LTX2Scheduler,
    distilled_sigmas,
    stage2_distilled_sigmas,
)

NUMERICS = Path(__file__).parents[1] / "fixtures" / "parity" / "common" / "numerics.safetensors"


def test_30_step_schedule_endpoints():
    s = np.array(LTX2Scheduler().execute(30))
    assert s.shape == (31,) and s.dtype == np.float32
    np.testing.assert_allclose(s[:2], [1.0, 0.99496], atol=1e-5)
    np.testing.assert_allclose(s[-3:], [0.26612, 0.1, 0.0], atol=1e-5)
    assert np.all(np.diff(s) < 0)


def test_schedule_matches_official_sigmas():
    f = safe_open(str(NUMERICS), "np")
    for name, steps in (("steps30", 30), ("steps40", 40), ("steps4", 4), ("steps8", 8)):
        ref = f.get_tensor(f"out.scheduler.{name}.default_tokens")
        np.testing.assert_allclose(np.array(LTX2Scheduler().execute(steps)), ref, atol=1e-6, rtol=0)
    ref = f.get_tensor("out.scheduler.steps10.no_stretch")
    np.testing.assert_allclose(np.array(LTX2Scheduler().execute(10, stretch=False)), ref, atol=1e-6, rtol=0)


def test_more_tokens_shift_sigmas_up():
    small = np.array(LTX2Scheduler().execute(8, latent=mx.zeros((1, 8, 2, 3, 4))))
    large = np.array(LTX2Scheduler().execute(8, latent=mx.zeros((1, 8, 16, 16, 24))))
    assert np.all(large[1:-2] > small[1:-2])
    assert large[-2] == pytest.approx(0.1, abs=1e-6) and small[-2] == pytest.approx(0.1, abs=1e-6)


def test_distilled_tables_match_the_official_lists():
    f = safe_open(str(NUMERICS), "np")
    np.testing.assert_array_equal(np.array(distilled_sigmas()), f.get_tensor("out.distilled_sigmas"))
    np.testing.assert_array_equal(np.array(stage2_distilled_sigmas()), f.get_tensor("out.stage2_distilled_sigmas"))
    assert FixedSigmas(STAGE_2_DISTILLED_SIGMA_VALUES).execute(3).shape == (4,)
    with pytest.raises(ValueError, match="3 steps"):
        FixedSigmas(STAGE_2_DISTILLED_SIGMA_VALUES).execute(5)


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        LTX2Scheduler().execute(0)
    with pytest.raises(ValueError):
        FixedSigmas((1.0, 0.5))
