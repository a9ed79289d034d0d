"""The audio-video transformer on tiny random configs: shapes, dtypes, batching, perturbations, input checks."""

from __future__ import annotations

import copy
from dataclasses import replace

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten, tree_unflatten

from ltxmlx.errors import ConfigError, ShapeError
from ltxmlx.model.transformer import (
    MODALITY_ISOLATION,
    BatchPerturbations,
    LTXModel,
    Modality,
    Perturbation,
    PerturbationType,
    TransformerConfig,
)

BASE = {
    "dropout": 0.0, "attention_bias": True, "num_vector_embeds": None, "activation_fn": "gelu-approximate",
    "num_embeds_ada_norm": 1000, "use_linear_projection": False, "only_cross_attention": False,
    "cross_attention_norm": True, "double_self_attention": False, "upcast_attention": False,
    "standardization_norm": "rms_norm", "norm_elementwise_affine": False, "qk_norm": "rms_norm",
    "positional_embedding_type": "rope", "use_audio_video_cross_attention": True, "share_ff": False,
    "av_cross_ada_norm": True, "use_middle_indices_grid": True, "num_layers": 2, "num_attention_heads": 2,
    "attention_head_dim": 8, "cross_attention_dim": 16, "audio_num_attention_heads": 2,
    "audio_attention_head_dim": 4, "audio_cross_attention_dim": 8, "in_channels": 4, "out_channels": 4,
    "audio_in_channels": 6, "audio_out_channels": 6, "norm_eps": 1e-6, "positional_embedding_theta": 10000.0,
    "positional_embedding_max_pos": [20, 2048, 2048], "audio_positional_embedding_max_pos": [20],
    "timestep_scale_multiplier": 1000, "av_ca_timestep_scale_multiplier": 1000.0, "rope_type": "split",
    "frequencies_precision": "float64", "caption_channels": 12,
}
GEN22 = {"apply_gated_attention": True, "cross_attention_adaln": True, "caption_proj_before_connector": True}
CONFIGS = {"19b": BASE, "22b": {**BASE, **GEN22}}
TV, TA, S = 6, 5, 3


def _model(gen: str, dtype=mx.float32) -> LTXModel:
    model = LTXModel(TransformerConfig.from_config(CONFIGS[gen]))
    params = tree_flatten(model.parameters())
    keys = mx.random.split(mx.random.key(7), len(params))
    values = [(k, (mx.random.normal(v.shape, key=r) * 0.3).astype(dtype)) for (k, v), r in zip(params, keys)]
    model.update(tree_unflatten(values))
    return model


def _inputs(model: LTXModel, batch: int, seed: int = 0) -> tuple[Modality, Modality]:
    cfg = model.cfg
    rng = np.random.default_rng(seed)
    sig_v = rng.uniform(0.1, 1.0, batch).astype(np.float32)
    sig_a = rng.uniform(0.1, 1.0, batch).astype(np.float32)
    mask = np.ones((batch, TV, 1), np.float32)
    mask[0, :2] = 0.0  # first item: a conditioned first frame (per-token timesteps)
    vpos = np.stack([np.arange(TV) * 0.3, np.arange(TV) % 3 * 32.0, np.arange(TV) % 2 * 32.0])
    vpos = np.broadcast_to(np.stack([vpos, vpos + [[0.3], [32], [32]]], -1), (batch, 3, TV, 2))
    apos = np.broadcast_to(np.stack([np.arange(TA) * 0.04, np.arange(TA) * 0.04 + 0.04], -1)[None], (batch, 1, TA, 2))
    video = Modality(
        latent=mx.array(rng.standard_normal((batch, TV, cfg.in_channels), np.float32)),
        sigma=mx.array(sig_v),
        timesteps=mx.array(sig_v[:, None, None] * mask),
        positions=mx.array(np.ascontiguousarray(vpos, np.float32)),
        context=mx.array(rng.standard_normal((batch, S, cfg.video_context_dim), np.float32)),
    )
    audio = Modality(
        latent=mx.array(rng.standard_normal((batch, TA, cfg.audio_in_channels), np.float32)),
        sigma=mx.array(sig_a),
        timesteps=mx.array(np.broadcast_to(sig_a[:, None, None], (batch, TA, 1)).copy()),
        positions=mx.array(np.ascontiguousarray(apos, np.float32)),
        context=mx.array(rng.standard_normal((batch, S, cfg.audio_context_dim), np.float32)),
    )
    return video, audio


def _item(m: Modality, i: int) -> Modality:
    return Modality(*(getattr(m, f)[i : i + 1] for f in ("latent", "sigma", "timesteps", "positions", "context")))


def _close(a, b, tol=2e-5):
    a, b = np.array(a.astype(mx.float32)), np.array(b.astype(mx.float32))
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, atol=tol, rtol=tol)


@pytest.mark.parametrize("gen", ["19b", "22b"])
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16])
def test_forward_shapes_and_dtypes(gen, batch, dtype):
    model = _model(gen, dtype)
    video, audio = _inputs(model, batch)
    v, a = model(video, audio)
    assert v.shape == (batch, TV, model.cfg.out_channels) and v.dtype == dtype
    assert a.shape == (batch, TA, model.cfg.audio_out_channels) and a.dtype == dtype
    assert np.isfinite(np.array(v.astype(mx.float32))).all() and np.isfinite(np.array(a.astype(mx.float32))).all()


@pytest.mark.parametrize("gen", ["19b", "22b"])
def test_bfloat16_forward_tracks_float32(gen):
    video, audio = _inputs(_model(gen), 2)
    v32, a32 = _model(gen)(video, audio)
    v16, a16 = _model(gen, mx.bfloat16)(video, audio)
    for lo, hi in ((v16, v32), (a16, a32)):
        err = np.abs(np.array(lo.astype(mx.float32)) - np.array(hi)).max()
        assert err <= 0.05 * np.abs(np.array(hi)).max()


@pytest.mark.parametrize("gen", ["19b", "22b"])
def test_per_item_timesteps_equal_uniform_per_token_timesteps(gen):
    """The (B, 1, 1) fast path broadcasts the same modulation the (B, T, 1) form computes per token."""
    model = _model(gen)
    video, audio = _inputs(model, 2)
    uniform_v = replace(video, timesteps=mx.broadcast_to(video.sigma[:, None, None], video.timesteps.shape))
    fast_v, fast_a = replace(video, timesteps=video.sigma[:, None, None]), replace(audio, timesteps=audio.sigma[:, None, None])
    ref_v, ref_a = model(uniform_v, audio)
    got_v, got_a = model(fast_v, fast_a)
    _close(got_v, ref_v, 1e-5)
    _close(got_a, ref_a, 1e-5)
    cond_v, _ = model(video, audio)  # the conditioned first frame must still change the result
    assert np.abs(np.array(cond_v) - np.array(ref_v)).max() > 1e-4


@pytest.mark.parametrize("gen", ["19b", "22b"])
def test_single_stream_forward_equals_isolated_av_forward(gen):
    model = _model(gen)
    video, audio = _inputs(model, 2)
    iso_v, iso_a = model(video, audio, BatchPerturbations.uniform(2, MODALITY_ISOLATION))
    only_v, none_a = model(video, None)
    none_v, only_a = model(None, audio)
    assert none_a is None and none_v is None
    _close(only_v, iso_v)
    _close(only_a, iso_a)
    full_v, _ = model(video, audio)
    assert np.abs(np.array(full_v) - np.array(iso_v)).max() > 1e-4, "AV cross-attention must matter"


@pytest.mark.parametrize("gen", ["19b", "22b"])
def test_batch_items_equal_items_alone(gen):
    """Different sigmas, per-token timesteps and a perturbation on one item only."""
    model = _model(gen)
    video, audio = _inputs(model, 2, seed=3)
    stg = (
        Perturbation(PerturbationType.SKIP_VIDEO_SELF_ATTN, (1,)),
        Perturbation(PerturbationType.SKIP_AUDIO_SELF_ATTN),
    )
    per_item = [(), stg]
    v, a = model(video, audio, BatchPerturbations.of(per_item))
    for i in range(2):
        vi, ai = model(_item(video, i), _item(audio, i), BatchPerturbations.of([per_item[i]]))
        _close(v[i : i + 1], vi)
        _close(a[i : i + 1], ai)
    plain_v, _ = model(video, audio)
    _close(plain_v[0:1], v[0:1])
    assert np.abs(np.array(plain_v[1]) - np.array(v[1])).max() > 1e-4, "the perturbation must change item 1"


@pytest.mark.parametrize(
    ("stream", "field", "bad"),
    [
        ("video", "latent", lambda m: m.latent[..., :-1]),
        ("audio", "latent", lambda m: mx.concatenate([m.latent, m.latent], -1)),
        ("video", "positions", lambda m: m.positions[:, :2]),
        ("audio", "positions", lambda m: m.positions[..., 0]),
        ("video", "context", lambda m: m.context[..., :-2]),
        ("video", "timesteps", lambda m: m.timesteps[..., 0]),
        ("audio", "sigma", lambda m: m.sigma[:1]),
    ],
)
def test_bad_input_shapes_raise_before_compute(stream, field, bad):
    model = _model("22b")
    video, audio = _inputs(model, 2)
    mods = {"video": video, "audio": audio}
    m = mods[stream]
    fields = ("latent", "sigma", "timesteps", "positions", "context")
    mods[stream] = Modality(**{f: (bad(m) if f == field else getattr(m, f)) for f in fields})
    with pytest.raises(ShapeError, match=f"{stream}.{field}"):
        model(mods["video"], mods["audio"])


def test_mismatched_batches_and_perturbations_raise():
    model = _model("19b")
    video, audio = _inputs(model, 2)
    with pytest.raises(ShapeError, match="batch sizes differ"):
        model(video, _item(audio, 0))
    with pytest.raises(ShapeError, match="perturbations"):
        model(video, audio, BatchPerturbations.uniform(3, MODALITY_ISOLATION))
    with pytest.raises(ShapeError, match="neither"):
        model(None, None)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("rope_type", "interleaved"),
        ("frequencies_precision", "float32"),
        ("positional_embedding_type", "sinusoidal"),
        ("activation_fn", "gelu"),
        ("qk_norm", "layer_norm"),
        ("use_middle_indices_grid", False),
        ("audio_num_attention_heads", 4),
        ("cross_attention_dim", 32),
        ("use_keyframes_abs_pos_embedding", "yes"),
        ("ff_bias", 0),
        ("num_layers", None),
    ],
)
def test_unsupported_config_is_refused_naming_the_key(key, value):
    cfg = copy.deepcopy(CONFIGS["22b"])
    if value is None:
        del cfg[key]
    else:
        cfg[key] = value
    with pytest.raises(ConfigError) as err:
        TransformerConfig.from_config(cfg)
    assert err.value.key in (key, "num_attention_heads")


def test_generation_layouts_follow_the_config():
    m19, m22 = _model("19b"), _model("22b")
    k19 = {k for k, _ in tree_flatten(m19.parameters())}
    k22 = {k for k, _ in tree_flatten(m22.parameters())}
    assert "caption_projection.linear_1.weight" in k19 and "caption_projection.linear_1.weight" not in k22
    assert "transformer_blocks.0.attn1.to_gate_logits.weight" in k22
    assert "transformer_blocks.1.prompt_scale_shift_table" in k22 and "prompt_adaln_single.linear.weight" in k22
    assert m19.transformer_blocks[0].scale_shift_table.shape == (6, 16)
    assert m22.transformer_blocks[0].scale_shift_table.shape == (9, 16)


def test_bfloat16_attention_runs_in_bfloat16(monkeypatch):
    """Float32 RoPE/AdaLN tables must not promote bf16 activations (SDPA would run fp32 kernels)."""
    seen = []
    sdpa = mx.fast.scaled_dot_product_attention

    def spy(q, k, v, **kw):
        seen.append((q.dtype, k.dtype, v.dtype))
        return sdpa(q, k, v, **kw)

    monkeypatch.setattr(mx.fast, "scaled_dot_product_attention", spy)
    model = _model("22b", mx.bfloat16)
    model(*_inputs(model, 2))
    assert len(seen) == 2 * 6  # per block: 2 self, 2 text, A2V, V2A
    assert all(d == mx.bfloat16 for dtypes in seen for d in dtypes)


@pytest.mark.parametrize("gen", ["19b", "22b"])
def test_compiled_forward_equals_eager_forward_and_sees_new_weights(gen):
    model = _model(gen)
    video, audio = _inputs(model, 2)
    stg = BatchPerturbations.of([[], [Perturbation(PerturbationType.SKIP_VIDEO_SELF_ATTN, (1,))]])
    calls = [(video, audio, None), (video, audio, stg), (video, None, None), (None, audio, None)]
    for v_in, a_in, p in calls:
        model.compiled = True
        got = model(v_in, a_in, p)
        model.compiled = False
        ref = model(v_in, a_in, p)
        for g, r in zip(got, ref):
            assert (g is None) == (r is None)
            if g is not None:
                _close(g, r, 1e-6)
    model.compiled = True
    before, _ = model(video, audio)
    model.update({"proj_out": {"bias": model.proj_out.bias + 1.0}})
    after, _ = model(video, audio)
    _close(after, before + 1.0, 1e-5)
