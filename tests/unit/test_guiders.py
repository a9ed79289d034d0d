"""Guidance math, official defaults, pass layout and skip_step reuse."""

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.components.guidance_passes import (
    chunk_rows,
    guided_x0,
    pass_contexts,
    plan_step,
    row_passes,
    run_passes,
    tile_passes,
)
from ltxmlx.components.guiders import GuiderParams, guide
from ltxmlx.generations import get as generation


def _arr(*vals):
    return mx.array(np.array(vals, dtype=np.float32).reshape(1, -1, 1))


def test_guidance_formula_by_hand():
    cond, uncond, ptb, iso = _arr(1, 2, 3, 4), _arr(0, 0, 1, 1), _arr(1, 1, 1, 1), _arr(2, 2, 2, 2)
    p = GuiderParams(cfg_scale=3.0, stg_scale=0.5, stg_blocks=(1,), modality_scale=2.0)
    c, u, t, i = (np.array([1, 2, 3, 4.0]), np.array([0, 0, 1, 1.0]), np.ones(4), np.full(4, 2.0))
    expected = c + 2 * (c - u) + 0.5 * (c - t) + 1 * (c - i)
    np.testing.assert_allclose(np.array(guide(p, cond, uncond, ptb, iso)).ravel(), expected, rtol=1e-6)
    rescaled = GuiderParams(cfg_scale=3.0, stg_scale=0.5, stg_blocks=(1,), modality_scale=2.0, rescale_scale=0.7)
    factor = 0.7 * c.std(ddof=1) / expected.std(ddof=1) + 0.3
    np.testing.assert_allclose(np.array(rescaled(cond, uncond, ptb, iso)).ravel(), expected * factor, rtol=1e-6)


def test_rescale_is_per_item_so_batching_does_not_change_a_result():
    keys = mx.random.split(mx.random.key(0), 4)
    cond, uncond, ptb, iso = (mx.random.normal((3, 5, 4), key=k) * (1 + i) for i, k in enumerate(keys))
    p = GuiderParams(3.0, 1.0, (0,), 0.7, 3.0)
    batched = np.array(p(cond, uncond, ptb, iso))
    alone = np.array(p(cond[1:2], uncond[1:2], ptb[1:2], iso[1:2]))
    np.testing.assert_allclose(batched[1:2], alone, rtol=1e-6, atol=1e-6)


def test_no_guidance_returns_cond_and_missing_pass_raises():
    cond = _arr(1, 2, 3)
    np.testing.assert_array_equal(np.array(GuiderParams()(cond)), np.array(cond))
    with pytest.raises(ValueError, match="uncond"):
        guide(GuiderParams(cfg_scale=2.0), cond)
    with pytest.raises(ValueError, match="stg_blocks"):
        GuiderParams(stg_scale=1.0)


def test_pass_plan_layout_and_chunks():
    v, a = generation("2.3").guider_params()
    plan = plan_step(v, a, 0)
    assert plan.names == ("cond", "uncond", "ptb", "mod")
    assert plan.passes[2].skip_video_self_attn == (28,) and plan.passes[3].skip_cross_modal
    assert plan_step(None, None, 0).names == ("cond",)
    assert [p.name for p in row_passes(plan.passes, 2)] == ["cond", "cond", "uncond", "uncond", "ptb", "ptb",
                                                            "mod", "mod"]
    assert chunk_rows(8, 3) == [slice(0, 3), slice(3, 6), slice(6, 8)]
    pos, neg = mx.zeros((2, 3, 4)), mx.ones((2, 3, 4))
    ctx = np.array(pass_contexts(pos, neg, plan.passes, negative_required=True))
    assert ctx.shape == (8, 3, 4) and ctx[2:4].min() == 1.0 and ctx[4:].max() == 0.0
    with pytest.raises(ValueError, match="negative"):
        pass_contexts(pos, None, plan.passes, negative_required=True)


def test_chunked_passes_equal_one_call():
    v, a = GuiderParams(3.0, 1.0, (0,), 0.7, 3.0), GuiderParams(7.0, 0.0, (), 0.0, 3.0)
    plan = plan_step(v, a, 0)
    batch = 2
    x_v = tile_passes(mx.random.normal((batch, 5, 4), key=mx.random.key(1)), len(plan.passes))
    x_a = tile_passes(mx.random.normal((batch, 3, 6), key=mx.random.key(2)), len(plan.passes))
    # a fake "transformer": depends on the row's pass so the split order matters
    scale = mx.array([1.0 + i for i, _ in enumerate(row_passes(plan.passes, batch))])[:, None, None]

    def forward(rows):
        return x_v[rows] * scale[rows], x_a[rows] * scale[rows]

    one = run_passes(forward, plan, batch, max_batch_size=100)
    chunked = run_passes(forward, plan, batch, max_batch_size=3)
    for name in plan.names:
        for m in range(2):
            np.testing.assert_array_equal(np.array(one[name][m]), np.array(chunked[name][m]))
    np.testing.assert_array_equal(np.array(one["uncond"][0]), np.array(x_v[:2] * mx.array([3.0, 4.0])[:, None, None]))
    x0_v, x0_a = guided_x0(plan, v, a, one, (None, None))
    assert x0_v.shape == (2, 5, 4) and x0_a.shape == (2, 3, 6)


def test_skip_step_reuses_previous_x0():
    v = GuiderParams(cfg_scale=3.0, skip_step=1)
    a = GuiderParams(cfg_scale=3.0, skip_step=2)
    assert [v.should_skip(i) for i in range(4)] == [False, True, False, True]
    assert plan_step(v, a, 2).names == ("cond", "uncond")  # video runs at step 2, audio skips
    assert plan_step(v, a, 5).names == ()  # both skip: no transformer call at all
    last = (mx.full((1, 2, 1), 9.0), mx.full((1, 2, 1), 8.0))
    plan = plan_step(v, a, 2)
    outputs = {"cond": (mx.ones((1, 2, 1)), mx.ones((1, 2, 1))), "uncond": (mx.zeros((1, 2, 1)), mx.zeros((1, 2, 1)))}
    x0_v, x0_a = guided_x0(plan, v, a, outputs, last)
    assert float(x0_a.max()) == 8.0  # audio reused
    np.testing.assert_allclose(np.array(x0_v).ravel(), [3.0, 3.0])  # 1 + 2*(1-0)
    with pytest.raises(ValueError, match="previous x0"):
        guided_x0(plan, v, a, outputs, (None, None))
