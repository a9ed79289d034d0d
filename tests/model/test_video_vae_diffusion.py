"""LTX-2.5 diffusion video decoder on the tiny official-format file: neighborhood attention,
config-driven sampling, noise handling, batching and the loader's conv/diffusion routing."""

import json
from dataclasses import replace

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.errors import CheckpointError, ConfigError, ShapeError
from ltxmlx.loader import build
from ltxmlx.loader.specs.video_vae import fold_static_gates
from ltxmlx.model.video_vae.diffusion import DiffusionDecoderConfig, na3d, video_decoder_kind
from ltxmlx.model.video_vae.diffusion.neighborhood import window_starts
from ltxmlx.model.video_vae.diffusion.tiling import DiffusionTiling, min_overlaps
from tests.conftest import PARITY

DIFFUSION_FILE = PARITY / "25" / "tiny_ltx-2.5-video-vae.safetensors"
CONV_FILE = PARITY / "25" / "tiny_ltx-2.5-video-vae-conv.safetensors"
_CHECKPOINTS = json.loads((PARITY / "index.json").read_text())["checkpoints"]


def _config(name: str) -> dict:
    return _CHECKPOINTS[f"25/{name}"]["metadata"]["config"]


@pytest.fixture(scope="module")
def decoder():
    return build("video_decoder_diffusion", DIFFUSION_FILE, dtype=mx.float32)


def _brute_force_na(q, k, v, kernel):
    b, t, h, w, heads, d = q.shape
    starts = [window_starts(n, kk) for n, kk in zip((t, h, w), kernel)]
    out = np.zeros_like(q)
    for i in range(t):
        for j in range(h):
            for m in range(w):
                sl = tuple(slice(s[p], s[p] + kk) for s, p, kk in zip(starts, (i, j, m), kernel))
                ks = k[:, sl[0], sl[1], sl[2]].reshape(b, -1, heads, d)
                vs = v[:, sl[0], sl[1], sl[2]].reshape(b, -1, heads, d)
                s = np.einsum("bhd,bnhd->bhn", q[:, i, j, m], ks)
                p = np.exp(s - s.max(-1, keepdims=True))
                out[:, i, j, m] = np.einsum("bhn,bnhd->bhd", p / p.sum(-1, keepdims=True), vs)
    return out


@pytest.mark.parametrize("budget", [64, 2**28])  # one tile per SDPA call / all tiles in one call
@pytest.mark.parametrize("tile", [(1, 1, 1), (2, 3, 4), (4, 8, 8)])
def test_neighborhood_attention_clamps_windows_at_borders(tile, budget):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 5, 6, 9, 2, 4)).astype(np.float32) for _ in range(3))
    kernel = (3, 3, 5)
    got = np.array(na3d(mx.array(q), mx.array(k), mx.array(v), kernel, tile=tile, budget=budget))
    np.testing.assert_allclose(got, _brute_force_na(q, k, v, kernel), atol=2e-6)


def test_window_starts_shift_inward_at_both_borders():
    assert window_starts(6, 3).tolist() == [0, 0, 1, 2, 3, 3]
    assert window_starts(5, 5).tolist() == [0, 0, 0, 0, 0]


def test_decoder_kind_comes_from_the_vae_class():
    assert video_decoder_kind(_config("tiny_ltx-2.5-video-vae.safetensors")) == "diffusion"
    assert video_decoder_kind(_config("tiny_ltx-2.5-video-vae-conv.safetensors")) == "conv"
    assert video_decoder_kind({"vae": {}}) == "conv"  # 19B/22B files carry no class name
    with pytest.raises(ConfigError, match="CausalDiffusionVAE"):
        video_decoder_kind({"vae": {"_class_name": "SomethingElse"}})


def test_asking_the_wrong_decoder_of_a_file_names_its_class():
    with pytest.raises(CheckpointError, match="'CausalDiffusionVAE'.*video_decoder_diffusion"):
        build("video_decoder", DIFFUSION_FILE, dtype=mx.float32)
    with pytest.raises(CheckpointError, match="'CausalVideoAutoencoder'.*'video_decoder'"):
        build("video_decoder_diffusion", CONV_FILE, dtype=mx.float32)


def test_encoder_builds_from_both_files():
    pixels = mx.random.uniform(-1, 1, (1, 3, 9, 32, 32), key=mx.random.key(1))
    for path in (DIFFUSION_FILE, CONV_FILE):
        assert build("video_encoder", path, dtype=mx.float32)(pixels).shape == (1, 4, 2, 1, 1)


def test_static_gates_fold_into_weight_rows_and_bias():
    w, b, g = mx.ones((3, 2)), mx.array([1.0, 2.0, 3.0]), mx.array([0.5, 2.0, -1.0])
    out = fold_static_gates({"blk.attn.proj.weight": w, "blk.attn.proj.bias": b, "blk.gate_msa": g, "x": b})
    assert set(out) == {"blk.attn.proj.weight", "blk.attn.proj.bias", "x"}
    np.testing.assert_allclose(np.array(out["blk.attn.proj.weight"]), [[0.5, 0.5], [2, 2], [-1, -1]])
    np.testing.assert_allclose(np.array(out["blk.attn.proj.bias"]), [0.5, 4.0, -3.0])


def test_noise_shape_covers_the_padded_latent(decoder):
    # The tiny decoder needs 3 latent frames / rows / columns; a 2x2x2 latent decodes on a 3x3x3 canvas.
    assert decoder.noise_shape((1, 4, 2, 2, 2)) == (1, 3, 17, 96, 96)
    assert decoder.noise_shape((2, 4, 4, 3, 5)) == (2, 3, 25, 96, 160)


def test_decode_shapes_batching_and_noise_callable(decoder):
    latent = mx.random.normal((2, 4, 2, 2, 3), key=mx.random.key(2))
    shape = decoder.noise_shape(latent.shape)
    noise = mx.random.normal(shape, key=mx.random.key(3))
    both = decoder.decode(latent, noise)
    assert both.shape == (2, 3, 9, 64, 96) and both.dtype == mx.float32
    solo = decoder.decode(latent[1:], lambda s: noise[1:] if s == (1, *shape[1:]) else None)
    np.testing.assert_allclose(np.array(both[1:]), np.array(solo), atol=2e-5)


def test_decode_refuses_bad_noise_and_too_small_overlaps(decoder):
    latent = mx.zeros((1, 4, 2, 2, 2))
    with pytest.raises(ShapeError, match="noise of shape"):
        decoder.decode(latent, mx.zeros((1, 3, 9, 64, 64)))
    noise = mx.zeros(decoder.noise_shape(latent.shape))
    assert min_overlaps(decoder.config) == (8, 32)  # stage-4/5 halos of the tiny file, rounded up
    with pytest.raises(ConfigError, match="at least 32"):
        decoder.decode(latent, noise, DiffusionTiling(height=(64, 16)))


@pytest.fixture(scope="module")
def untiled(decoder):
    latent = mx.random.normal((1, 4, 4, 4, 5), key=mx.random.key(8))
    noise = mx.random.normal(decoder.noise_shape(latent.shape), key=mx.random.key(9))
    return latent, noise, np.array(decoder.decode(latent, noise))


def test_tiling_without_tiled_axes_is_the_untiled_decode(decoder, untiled):
    latent, noise, want = untiled
    np.testing.assert_array_equal(np.array(decoder.decode(latent, noise, DiffusionTiling())), want)


@pytest.mark.parametrize(
    "tiling, axis, exact",
    [
        # two row tiles, pixels [0, 96) and [32, 128): outside the overlap each is the untiled decode
        (DiffusionTiling(height=(96, 32)), 3, np.r_[0:32, 96:128]),
        (DiffusionTiling(width=(96, 32)), 4, np.r_[0:32, 128:160]),
        # three frame tiles, frames [0, 15), [7, 23), [15, 25)
        (DiffusionTiling(frames=(16, 8)), 2, np.r_[0:7, 23:25]),
    ],
)
def test_tiles_reproduce_the_untiled_decode_outside_their_overlaps(decoder, untiled, tiling, axis, exact):
    latent, noise, want = untiled
    got = np.array(decoder.decode(latent, noise, tiling))
    assert got.shape == want.shape
    np.testing.assert_allclose(np.take(got, exact, axis=axis), np.take(want, exact, axis=axis), atol=1e-5)
    # the seams blend two different tile decodes: close to, not equal to, the untiled decode
    assert 0 < np.abs(got - want).max() < np.abs(want).max()


@pytest.mark.parametrize("output_type, steps", [("x0", 1), ("x0", 2), ("v", 1), ("v", 3)])
def test_sampling_follows_output_type_and_step_count_of_the_config(decoder, output_type, steps):
    saved = decoder.config
    decoder.config = replace(saved, model_output_type=output_type, num_inference_steps=steps)
    calls = []
    real_predict = decoder.predict

    def predict(x_t, context, t):
        calls.append(float(t[0]))
        return real_predict(x_t, context, t)

    decoder.predict = predict
    try:
        latent = mx.random.normal((1, 4, 3, 3, 3), key=mx.random.key(4))
        noise = mx.random.normal(decoder.noise_shape(latent.shape), key=mx.random.key(5))
        out = decoder.decode(latent, noise)
        assert calls == pytest.approx(list(np.linspace(1.0, 1.0 / steps, steps)))
        if steps == 1:
            # One evaluation at t=1: x0 is the output, a velocity goes all the way: x_T - v.
            pred = real_predict(noise.transpose(0, 2, 3, 4, 1), decoder.context(latent.transpose(0, 2, 3, 4, 1)), mx.ones((1,)))
            pred = pred.transpose(0, 4, 1, 2, 3)
            want = pred if output_type == "x0" else noise - pred
            np.testing.assert_allclose(np.array(out), np.array(want), atol=2e-5)
    finally:
        del decoder.predict
        decoder.config = saved


def test_config_refuses_unknown_output_type():
    vae = dict(_config("tiny_ltx-2.5-video-vae.safetensors")["vae"], model_output_type="eps")
    with pytest.raises(ConfigError, match="model_output_type"):
        DiffusionDecoderConfig.from_config(vae)


def test_decode_steps_yield_states_then_rgb_chunks_equal_to_decode(decoder):
    from ltxmlx.model.video_vae.decode import to_rgb
    from ltxmlx.model.video_vae.diffusion import diffusion_decode_steps

    latent = mx.random.normal((1, 4, 2, 2, 2), key=mx.random.key(6))
    noise = mx.random.normal(decoder.noise_shape(latent.shape), key=mx.random.key(7))
    states, chunks = 0, []
    for step in diffusion_decode_steps(decoder, latent, noise):
        mx.eval(step.state)
        if step.frames is None:
            states += 1
        else:
            chunks.append(step.frames)
    # the context, then one state per non-final Euler step (the tiny file: 2 steps, x0)
    assert states == 1 + decoder.config.num_inference_steps - 1
    want = to_rgb(decoder.decode(latent, noise).transpose(0, 2, 3, 4, 1))
    np.testing.assert_allclose(np.array(mx.concatenate(chunks, axis=1)), np.array(want), atol=1e-6)
