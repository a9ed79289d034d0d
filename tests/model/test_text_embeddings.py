"""Feature extractors and connectors on tiny configs: formulas, padding layout, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.errors import ConfigError, ShapeError
from ltxmlx.loader import build
from ltxmlx.loader.checkpoint import open_checkpoint
from ltxmlx.text_encoders.gemma import Gemma3TextConfig, with_text_encoder_config
from ltxmlx.text_encoders.gemma.embeddings_processor import EmbeddingsProcessorConfig
from ltxmlx.text_encoders.gemma.feature_extractor import FeatureExtractorV1

PARITY = Path(__file__).resolve().parents[1] / "fixtures" / "parity"
GEMMA = Gemma3TextConfig.from_config(json.loads((PARITY / "common/tiny_gemma3/config.json").read_text()))


def _processor(gen: str):
    return build("embeddings_processor", with_text_encoder_config(PARITY / gen / f"tiny_{gen}.safetensors", GEMMA),
                 dtype=mx.float32)


def _states(batch: int, t: int, seed: int = 0) -> list[mx.array]:
    rng = np.random.default_rng(seed)
    return [mx.array(rng.standard_normal((batch, t, GEMMA.hidden_size)).astype(np.float32) * (i + 1))
            for i in range(GEMMA.num_hidden_states)]


def test_v1_features_equal_the_stacked_formula() -> None:
    fe = FeatureExtractorV1(8, 3)
    fe.aggregate_embed.weight = mx.array(np.random.default_rng(1).standard_normal((8, 24)).astype(np.float32))
    rng = np.random.default_rng(2)
    states = [rng.standard_normal((2, 6, 8)).astype(np.float32) for _ in range(3)]
    mask = np.array([[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]])
    x = np.stack(states, -1)  # (B, T, D, L), official layout
    m = mask[:, :, None, None].astype(bool)
    mean = np.where(m, x, 0).sum((1, 2), keepdims=True) / (mask.sum(1)[:, None, None, None] * 8 + 1e-6)
    rng_ = np.where(m, x, -np.inf).max((1, 2), keepdims=True) - np.where(m, x, np.inf).min((1, 2), keepdims=True)
    flat = np.where(m, 8 * (x - mean) / (rng_ + 1e-6), 0).reshape(2, 6, 24)
    expected = flat @ np.array(fe.aggregate_embed.weight).T
    video, audio = fe([mx.array(s) for s in states], mx.array(mask))
    np.testing.assert_allclose(np.array(video), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.array(video), np.array(audio))


@pytest.mark.parametrize("gen", ["19b", "22b"])
def test_embeddings_do_not_depend_on_the_padding_side(gen: str) -> None:
    processor = _processor(gen)
    t, n = 128, 37
    valid = _states(1, n)
    left = [mx.concatenate([mx.zeros((1, t - n, s.shape[-1])), s], axis=1) for s in valid]
    right = [mx.concatenate([s, mx.ones((1, t - n, s.shape[-1]))], axis=1) for s in valid]
    mask_left = mx.array([[0] * (t - n) + [1] * n])
    mask_right = mx.array([[1] * n + [0] * (t - n)])
    a, b = processor(left, mask_left), processor(right, mask_right)
    assert a.video.shape[-1] == processor.video_connector.inner_dim
    np.testing.assert_allclose(np.array(a.video), np.array(b.video), atol=1e-5)
    np.testing.assert_allclose(np.array(a.audio), np.array(b.audio), atol=1e-5)
    assert np.array(a.mask).tolist() == [[1] * t]


def test_batched_embeddings_equal_per_prompt_embeddings() -> None:
    processor = _processor("22b")
    states = _states(2, 128, seed=3)
    mask = mx.array([[0] * 100 + [1] * 28, [0] * 20 + [1] * 108])
    both = processor(states, mask)
    for row in range(2):
        one = processor([s[row:row + 1] for s in states], mask[row:row + 1])
        np.testing.assert_allclose(np.array(both.video[row]), np.array(one.video[0]), atol=1e-6)


def test_text_length_must_be_a_multiple_of_the_registers() -> None:
    processor = _processor("19b")
    with pytest.raises(ShapeError, match="multiple of the 128"):
        processor(_states(1, 100), mx.ones((1, 100)))


def test_partial_ltx23_text_config_is_refused() -> None:
    config = open_checkpoint(PARITY / "22b/tiny_22b.safetensors").config
    t = dict(config["transformer"])
    t["caption_proj_input_norm"] = True
    with pytest.raises(ConfigError, match="caption_proj_input_norm"):
        EmbeddingsProcessorConfig.from_config({**config, "transformer": t}, GEMMA.hidden_size, GEMMA.num_hidden_states)


def test_building_without_the_gemma_dims_says_how_to_add_them() -> None:
    with pytest.raises(ConfigError, match="with_text_encoder_config"):
        build("embeddings_processor", PARITY / "19b/tiny_19b.safetensors", dtype=mx.float32)


@pytest.mark.parametrize("gen", ["19b", "22b"])
def test_features_computed_a_few_tokens_at_a_time_equal_one_block(gen: str, monkeypatch) -> None:
    from ltxmlx.text_encoders.gemma import feature_extractor

    processor = _processor(gen)
    states, mask = _states(2, 128, seed=4), mx.array([[0] * 90 + [1] * 38, [1] * 128])
    whole = processor.features(states, mask)
    # Blocks of 3 tokens: 43 blocks, the last one short.
    monkeypatch.setattr(feature_extractor, "_BLOCK_ELEMENTS", 3 * 2 * GEMMA.hidden_size * GEMMA.num_hidden_states)
    blocks = processor.features(states, mask)
    for a, b in zip(whole, blocks):
        np.testing.assert_allclose(np.array(b), np.array(a), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("mode", "tolerance"), [("int8", 0.02), ("int4", 0.25)])
def test_a_quantized_processor_stays_close_to_the_unquantized_one(mode: str, tolerance: float) -> None:
    """Every Linear of the feature extractor and the connectors is quantized; the tiny processors are 64
    wide (one group per row, a worst case): measured int8 0.9 % / int4 15 % relative RMS at most."""
    from mlx import nn

    from ltxmlx.loader.quantize import quantize_module

    states, mask = _states(1, 128, seed=5), mx.array([[0] * 60 + [1] * 68])
    reference = _processor("22b")(states, mask)
    processor = _processor("22b")
    layers = quantize_module(processor, "embeddings_processor", mode)
    # Every Linear whose input width holds whole groups (the tiny audio connector's 16 does not).
    wide = [p for p, m in processor.named_modules() if isinstance(m, nn.QuantizedLinear) or
            (isinstance(m, nn.Linear) and m.weight.shape[-1] % 32 == 0)]
    assert set(layers) == set(wide) and "feature_extractor.video_aggregate_embed" in layers
    out = processor(states, mask)
    for got, want in ((out.video, reference.video), (out.audio, reference.audio)):
        err = float(mx.sqrt(mx.mean((got - want) ** 2) / mx.mean(want**2)).item())
        assert 0 < err < tolerance
