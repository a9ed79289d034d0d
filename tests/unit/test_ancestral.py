"""The ancestral Euler sampler of the LTX-2.5 distilled stage 1, and its per-item step noise."""

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.components.diffusion_steps import EulerAncestralStep, EulerStep
from ltxmlx.pipelines.api import RenderItem
from ltxmlx.pipelines.states import batch_step_noise, keyed_step_noise

SIGMAS = [1.0, 0.9, 0.5, 0.0]


def _arrays(seed: int = 0):
    rng = np.random.default_rng(seed)
    return [mx.array(rng.standard_normal((2, 6, 4)).astype(np.float32)) for _ in range(3)]


def test_eta_zero_is_the_euler_step():
    x, x0, noise = _arrays()
    a = EulerAncestralStep(eta=0.0).step(x, x0, SIGMAS, 1, noise)
    b = EulerStep().step(x, x0, SIGMAS, 1)
    np.testing.assert_allclose(np.array(a), np.array(b), atol=1e-6)


def test_full_eta_step_matches_the_rectified_flow_formula():
    x, x0, noise = _arrays(1)
    s, sn = 0.9, 0.5
    sd = sn * (1 + (sn / s - 1))  # eta = 1
    ref = (sd / s) * np.array(x) + (1 - sd / s) * np.array(x0)
    an, ad = 1 - sn, 1 - sd
    ref = (an / ad) * ref + np.array(noise) * np.sqrt(max(sn**2 - sd**2 * an**2 / ad**2, 0.0))
    out = EulerAncestralStep().step(x, x0, SIGMAS, 1, noise)
    np.testing.assert_allclose(np.array(out), ref, rtol=1e-5, atol=1e-6)
    # The renoising term really depends on the noise.
    other = EulerAncestralStep().step(x, x0, SIGMAS, 1, -noise)
    assert not np.allclose(np.array(out), np.array(other))


def test_terminal_step_returns_the_prediction_and_noise_is_required_elsewhere():
    x, x0, _ = _arrays(2)
    np.testing.assert_array_equal(np.array(EulerAncestralStep().step(x, x0, SIGMAS, 2)), np.array(x0))
    with pytest.raises(ValueError, match="noise"):
        EulerAncestralStep().step(x, x0, SIGMAS, 0)


def test_step_noise_is_per_item_and_offset_from_the_initial_noise():
    items = [RenderItem("a", "p", "", 7), RenderItem("b", "q", "", 8)]
    source = keyed_step_noise(10000)
    together = batch_step_noise(source, items, 0)(3, "video", (2, 5, 4))
    alone = batch_step_noise(source, items[1:], 0)(3, "video", (1, 5, 4))
    np.testing.assert_array_equal(np.array(together[1:]), np.array(alone))
    step4 = batch_step_noise(source, items, 0)(4, "video", (2, 5, 4))
    audio = batch_step_noise(source, items, 0)(3, "audio", (2, 5, 4))
    no_offset = batch_step_noise(keyed_step_noise(0), items, 0)(3, "video", (2, 5, 4))
    for other in (step4, audio, no_offset):
        assert not np.allclose(np.array(together), np.array(other))
