"""Gemma 3 hidden states: config reading, masks, batching, bf16 and MLX-quantized checkpoints."""

from __future__ import annotations

import json

import mlx.core as mx
import numpy as np
import pytest
from mlx import nn
from mlx.utils import tree_flatten

from ltxmlx.errors import ConfigError
from ltxmlx.loader import build
from ltxmlx.text_encoders.gemma import (
    Gemma3TextConfig,
    open_gemma_checkpoint,
    tiny_gemma_folder,
    tiny_text_encoder,
)

# google/gemma-3-12b-it's config.json text part: sparse, transformers fills the rest with defaults.
SPARSE_12B = {
    "model_type": "gemma3",
    "text_config": {
        "hidden_size": 3840, "intermediate_size": 15360, "model_type": "gemma3_text", "num_attention_heads": 16,
        "num_hidden_layers": 48, "num_key_value_heads": 8, "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
        "sliding_window": 1024,
    },
}


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return tiny_text_encoder(tmp_path_factory.mktemp("tiny"))


def test_sparse_12b_config_gets_transformers_defaults() -> None:
    cfg = Gemma3TextConfig.from_config(SPARSE_12B)
    assert (cfg.head_dim, cfg.query_pre_attn_scalar, cfg.vocab_size) == (256, 256, 262_208)
    assert (cfg.rope_theta, cfg.rope_scaling_factor, cfg.rope_local_base_freq) == (1e6, 8.0, 1e4)
    assert cfg.num_hidden_states == 49
    assert [cfg.is_sliding(i) for i in range(6)] == [True] * 5 + [False]


def test_transformers5_rope_parameters_format_reads_the_same() -> None:
    text = {k: v for k, v in SPARSE_12B["text_config"].items() if k != "rope_scaling"}
    text["rope_parameters"] = {
        "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6},
        "sliding_attention": {"rope_type": "default", "rope_theta": 1e4},
    }
    assert Gemma3TextConfig.from_config({"model_type": "gemma3", "text_config": text}) == \
        Gemma3TextConfig.from_config(SPARSE_12B)


@pytest.mark.parametrize(("key", "value"), [
    ("rope_scaling", {"rope_type": "yarn", "factor": 8.0}),
    ("attn_logit_softcapping", 50.0),
    ("hidden_activation", "silu"),
])
def test_unsupported_gemma_settings_are_refused(key: str, value) -> None:
    cfg = json.loads(json.dumps(SPARSE_12B))
    cfg["text_config"][key] = value
    with pytest.raises(ConfigError, match=key):
        Gemma3TextConfig.from_config(cfg)


def test_prompt_gives_the_same_hidden_states_alone_and_in_a_batch(encoder) -> None:
    prompts = ["a red fox jumps over a sleeping dog in the snow", "rain"]
    batch, _ = encoder(prompts)
    alone, mask0 = encoder(prompts[:1])
    assert len(batch) == 4
    valid = np.array(mask0[0]).astype(bool)
    for b, a in zip(batch, alone):
        b, a = np.array(b), np.array(a)
        assert np.isfinite(b).all(), "pad rows must not produce NaN/inf"
        np.testing.assert_allclose(b[0][valid], a[0][valid], rtol=0, atol=1e-6)


def test_bfloat16_hidden_states_stay_close_to_float32(tmp_path) -> None:
    f32 = tiny_text_encoder(tmp_path)
    bf16 = tiny_text_encoder(tmp_path, dtype=mx.bfloat16)
    prompt = ["a lighthouse at dusk, waves crashing"]
    (s32, mask), (s16, _) = f32(prompt), bf16(prompt)
    valid = np.array(mask[0]).astype(bool)
    for a, b in zip(s32, s16):
        assert b.dtype == mx.bfloat16
        a, b = np.array(a[0])[valid], np.array(b[0].astype(mx.float32))[valid]
        assert np.abs(a - b).max() <= 0.05 * np.abs(a).max()


@pytest.mark.parametrize("bits", [4, 8])
def test_mlx_quantized_conversion_loads_and_matches(tmp_path, bits: int) -> None:
    """An mlx-community style folder (quantization in config.json, .scales/.biases tensors) loads
    strictly and computes what the same model quantized in memory computes."""
    src = tiny_gemma_folder(tmp_path / "src")
    reference = build("gemma3", open_gemma_checkpoint(src), dtype=mx.float32)
    nn.quantize(reference, group_size=32, bits=bits)
    folder = tmp_path / f"q{bits}"
    folder.mkdir()
    config = json.loads((src / "config.json").read_text())
    config["quantization"] = {"group_size": 32, "bits": bits}
    (folder / "config.json").write_text(json.dumps(config))
    weights = {f"language_model.model.{k}": v for k, v in tree_flatten(reference.parameters())}
    mx.save_safetensors(str(folder / "model.safetensors"), weights)

    loaded = build("gemma3", open_gemma_checkpoint(folder), dtype=mx.float32)
    assert isinstance(loaded.layers[0].mlp.down_proj, nn.QuantizedLinear)
    ids = mx.array([[0, 0, 2, 70, 71, 72, 73, 74]])
    mask = mx.array([[0, 0, 1, 1, 1, 1, 1, 1]])
    for a, b in zip(reference(ids, mask), loaded(ids, mask)):
        np.testing.assert_array_equal(np.array(a), np.array(b))


def test_trimmed_padding_gives_the_official_states_on_valid_rows(encoder) -> None:
    prompts = ["a small boat", "a harbour at sunrise with many small boats"]
    full, mask = encoder(prompts)
    assert int(np.array(mask).sum(axis=1).max()) < 64 < mask.shape[1], "the batch must be trimmable"
    encoder.trim_padding = True
    try:
        trimmed, mask_t = encoder(prompts)
    finally:
        encoder.trim_padding = False
    valid = np.array(mask).astype(bool)
    assert np.array_equal(np.array(mask), np.array(mask_t))
    for a, b in zip(full, trimmed):
        assert a.shape == b.shape
        np.testing.assert_allclose(np.array(b)[valid], np.array(a)[valid], rtol=1e-5, atol=2e-5)
