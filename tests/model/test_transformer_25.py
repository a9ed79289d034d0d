"""The LTX-2.5 transformer on tiny random configs: feed-forward biases and the keyframe embedding."""

from __future__ import annotations

from dataclasses import replace

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten, tree_unflatten

from ltxmlx.errors import ShapeError
from ltxmlx.model.transformer import LTXModel, Modality, TransformerConfig
from ltxmlx.model.transformer.transformer_args import add_keyframes_embedding

from tests.model.test_transformer import CONFIGS, TV, _inputs

GEN25 = {**CONFIGS["22b"], "ff_bias": False, "audio_ff_bias": True, "use_keyframes_abs_pos_embedding": True}


def _model(cfg: dict = GEN25, dtype=mx.float32) -> LTXModel:
    model = LTXModel(TransformerConfig.from_config(cfg))
    params = tree_flatten(model.parameters())
    keys = mx.random.split(mx.random.key(11), len(params))
    values = [(k, (mx.random.normal(v.shape, key=r) * 0.3).astype(dtype)) for (k, v), r in zip(params, keys)]
    model.update(tree_unflatten(values))
    return model


def _mask(batch: int, marked: dict[int, list[int]]) -> mx.array:
    mask = np.zeros((batch, TV, 1), np.float32)
    for item, tokens in marked.items():
        mask[item, tokens] = 1.0
    return mx.array(mask)


def test_layout_follows_ff_bias_and_keyframe_flags():
    keys = {k for k, _ in tree_flatten(_model().parameters())}
    assert "keyframes_abs_pos_embedding" in keys
    assert "transformer_blocks.0.ff.net.0.proj.weight" in keys
    assert not any(k.startswith("transformer_blocks.0.ff.") and k.endswith(".bias") for k in keys)
    assert {"transformer_blocks.0.audio_ff.net.0.proj.bias", "transformer_blocks.0.audio_ff.net.2.bias"} <= keys
    old = {k for k, _ in tree_flatten(LTXModel(TransformerConfig.from_config(CONFIGS["22b"])).parameters())}
    assert "keyframes_abs_pos_embedding" not in old and "transformer_blocks.0.ff.net.2.bias" in old


def test_keyframe_embedding_is_added_to_marked_tokens_only():
    x = mx.array(np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32))
    emb = mx.array([[1.0, 2.0, 3.0]])
    mask = mx.array(np.array([[[1], [0], [0], [0.5]], [[0], [0], [-1], [0]]], np.float32))
    got = np.array(add_keyframes_embedding(x, mask, emb))
    want = np.array(x)
    want[0, 0] += [1, 2, 3]
    want[0, 3] += [1, 2, 3]  # any positive value marks; zero and negative do not
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.array(add_keyframes_embedding(x, None, emb)), np.array(x))
    np.testing.assert_array_equal(np.array(add_keyframes_embedding(x, mask, None)), np.array(x))


def test_marked_tokens_change_the_forward_and_unmarked_inputs_equal_no_mask():
    model = _model()
    video, audio = _inputs(model, 2)
    no_mask_v, no_mask_a = model(video, audio)
    zero_v, zero_a = model(replace(video, keyframes_mask=_mask(2, {})), audio)
    np.testing.assert_array_equal(np.array(zero_v), np.array(no_mask_v))
    np.testing.assert_array_equal(np.array(zero_a), np.array(no_mask_a))

    # Only item 0 marked: item 1 unchanged, item 0 changed (through attention, every token of it).
    marked_v, marked_a = model(replace(video, keyframes_mask=_mask(2, {0: [0, 1]})), audio)
    np.testing.assert_allclose(np.array(marked_v[1]), np.array(no_mask_v[1]), atol=1e-6)
    np.testing.assert_allclose(np.array(marked_a[1]), np.array(no_mask_a[1]), atol=1e-6)
    assert np.abs(np.array(marked_v[0]) - np.array(no_mask_v[0])).max() > 1e-3
    assert np.abs(np.array(marked_a[0]) - np.array(no_mask_a[0])).max() > 1e-3, "AV attention carries it"

    pre_marked, _ = model.preprocess(replace(video, keyframes_mask=_mask(2, {0: [0, 1]})), audio)
    pre_plain, _ = model.preprocess(video, audio)
    diff = np.array(pre_marked.x - pre_plain.x)
    emb = np.array(model.keyframes_abs_pos_embedding)[0]
    np.testing.assert_allclose(diff[0, :2], np.broadcast_to(emb, (2, emb.size)), atol=1e-6)
    assert not diff[0, 2:].any() and not diff[1].any()


def test_model_without_the_embedding_ignores_the_mask():
    model = _model(CONFIGS["22b"])
    video, audio = _inputs(model, 2)
    ref_v, _ = model(video, audio)
    got_v, _ = model(replace(video, keyframes_mask=_mask(2, {0: [0, 1], 1: [3]})), audio)
    np.testing.assert_array_equal(np.array(got_v), np.array(ref_v))


def test_batch_with_keyframe_masks_equals_items_alone():
    model = _model()
    video, audio = _inputs(model, 2, seed=5)
    video = replace(video, keyframes_mask=_mask(2, {0: [0, 1], 1: [4, 5]}))
    v, a = model(video, audio)
    for i in range(2):
        rows = slice(i, i + 1)
        fields = (video.latent, video.sigma, video.timesteps, video.positions, video.context, video.keyframes_mask)
        vi = Modality(*(f[rows] for f in fields))
        ai = Modality(*(f[rows] for f in (audio.latent, audio.sigma, audio.timesteps, audio.positions, audio.context)))
        got_v, got_a = model(vi, ai)
        np.testing.assert_allclose(np.array(got_v), np.array(v[rows]), atol=2e-5, rtol=2e-5)
        np.testing.assert_allclose(np.array(got_a), np.array(a[rows]), atol=2e-5, rtol=2e-5)


def test_compiled_forward_with_and_without_mask_equals_eager():
    model = _model()
    video, audio = _inputs(model, 2)
    for v_in in (video, replace(video, keyframes_mask=_mask(2, {1: [0]}))):
        model.compiled = True
        got_v, got_a = model(v_in, audio)
        model.compiled = False
        ref_v, ref_a = model(v_in, audio)
        np.testing.assert_allclose(np.array(got_v), np.array(ref_v), atol=1e-6)
        np.testing.assert_allclose(np.array(got_a), np.array(ref_a), atol=1e-6)


@pytest.mark.parametrize("bad", [lambda m: m[..., 0], lambda m: m[:, :-1], lambda m: m[:1]])
def test_bad_keyframes_mask_shape_is_refused(bad):
    model = _model()
    video, audio = _inputs(model, 2)
    with pytest.raises(ShapeError, match=r"video\.keyframes_mask: expected \(2, 6, 1\)"):
        model(replace(video, keyframes_mask=bad(_mask(2, {0: [0]}))), audio)
