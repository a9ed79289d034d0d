"""Gemma 4 (LTX-2.5): config reading and refusals, hidden states, the tokenizer embedded in the file."""

from __future__ import annotations

import json

import mlx.core as mx
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from ltxmlx.errors import CheckpointError, ConfigError
from ltxmlx.text_encoders.gemma4 import Gemma4TextConfig, PackedAssets, load_gemma4_text_encoder
from ltxmlx.text_encoders.gemma4.tiny import TINY_MAX_LENGTH, tiny_gemma4_config, write_tiny_gemma4

from tests.conftest import PARITY

PACKED_FIXTURE = PARITY / "25" / "tiny_gemma4-with-proj-ltx-2.5.safetensors"
PROMPTS = ["a red fox jumps over a sleeping dog in the snow, slowly", "rain"]


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return write_tiny_gemma4(tmp_path_factory.mktemp("g4") / "te.safetensors", video_dim=16, audio_dim=8)


@pytest.fixture(scope="module")
def encoder(packed):
    return load_gemma4_text_encoder(packed, dtype=mx.float32, max_length=TINY_MAX_LENGTH)


def _config(**text_changes) -> dict:
    cfg = tiny_gemma4_config(263, "v")
    cfg["text_config"].update(text_changes)
    return cfg


def test_config_reads_the_layer_kinds_and_rope_of_the_packed_file() -> None:
    cfg = Gemma4TextConfig.from_config(_config())
    assert [cfg.is_sliding(i) for i in range(4)] == [True, True, True, False]
    assert (cfg.head_dim, cfg.global_head_dim, cfg.num_global_key_value_heads) == (16, 32, 1)
    assert (cfg.sliding_rope_theta, cfg.full_rope_theta, cfg.partial_rotary_factor) == (1e4, 1e6, 0.25)
    assert cfg.num_hidden_states == 5 and cfg.placeholder_ids == (4, 5, 6) and cfg.gemma_version == "v"


@pytest.mark.parametrize(("key", "value"), [
    ("enable_moe_block", True),
    ("num_kv_shared_layers", 2),
    ("hidden_size_per_layer_input", 256),
    ("attention_k_eq_v", False),
    ("use_bidirectional_attention", "all"),
    ("hidden_activation", "silu"),
    ("rope_parameters", {"full_attention": {"rope_type": "default", "rope_theta": 1e6},
                         "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}),
])
def test_settings_outside_the_encode_path_are_refused(key: str, value) -> None:
    with pytest.raises(ConfigError, match=key):
        Gemma4TextConfig.from_config(_config(**{key: value}))


def test_a_gemma3_config_is_not_a_gemma4_config() -> None:
    with pytest.raises(ConfigError, match="gemma4_unified"):
        Gemma4TextConfig.from_config({"model_type": "gemma3", "text_config": {}})


def test_prompt_gives_the_same_hidden_states_alone_and_in_a_batch(encoder) -> None:
    batch, mask = encoder(PROMPTS)
    alone, mask0 = encoder(PROMPTS[:1])
    assert len(batch) == 5 and batch[0].shape == (2, TINY_MAX_LENGTH, 64)
    assert int(mask[1].sum()) == len("rain") + 1, "<bos> + one token per byte"
    valid = np.array(mask0[0]).astype(bool)
    for b, a in zip(batch, alone):
        b, a = np.array(b), np.array(a)
        assert np.isfinite(b).all(), "pad rows must not produce NaN/inf"
        np.testing.assert_allclose(b[0][valid], a[0][valid], rtol=0, atol=1e-5)
    assert np.abs(np.array(batch[-1][0, -1]) - np.array(batch[-1][1, -1])).max() > 1e-2, "prompts differ"


def test_multimodal_placeholder_ids_embed_as_the_pad_token(encoder) -> None:
    model, cfg = encoder.model, encoder.model.config
    ids = mx.array([[cfg.pad_token_id, *cfg.placeholder_ids, 9]])
    emb = np.array(model.embed(ids))
    for col in range(1, 4):
        np.testing.assert_array_equal(emb[0, col], emb[0, 0])
    assert np.abs(emb[0, 4] - emb[0, 0]).max() > 0


def test_the_official_packed_files_tokenizer_reproduces_the_case_token_ids() -> None:
    with safe_open(str(PARITY / "25" / "gemma4_text_encoder.safetensors"), "np") as f:
        ids, mask = f.get_tensor("in.input_ids"), f.get_tensor("in.attention_mask")
    tok = PackedAssets.read(PACKED_FIXTURE).tokenizer(ids.shape[1])
    # The fixture tokenizer is a word-level vocabulary "t<id>"; <bos> is prepended by the encoder.
    texts = [" ".join(f"t{i}" for i in row[m.astype(bool)][1:]) for row, m in zip(ids, mask)]
    got_ids, got_mask = tok(texts)
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_array_equal(got_mask, mask)


def test_tokenizer_config_stored_as_metadata_reads_the_same(packed, tmp_path) -> None:
    with safe_open(str(packed), "np") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys() if k != "hf_asset__tokenizer_config.json"}
        sidecar = f.get_tensor("hf_asset__tokenizer_config.json").tobytes().decode()
    older = tmp_path / "older.safetensors"
    save_file(tensors, str(older), metadata={**meta, "tokenizer_config.json": sidecar})
    a = PackedAssets.read(packed).tokenizer(32)
    b = PackedAssets.read(older).tokenizer(32)
    np.testing.assert_array_equal(a(PROMPTS)[0], b(PROMPTS)[0])
    assert a.identity == b.identity
    ids, mask = a(["rain"])
    assert ids[0, -5:].tolist()[0] == 2 and ids[0, :-5].max() == 0 and mask[0].sum() == 5, "<bos> first, left pad 0"
    assert a(PROMPTS)[1].sum(axis=1).tolist() == [32, 5], "truncated to max_length"

    save_file(tensors, str(older), metadata=meta)
    with pytest.raises(CheckpointError, match="tokenizer_config.json"):
        PackedAssets.read(older).tokenizer(32)


def test_tiny_writer_is_deterministic_and_sized_for_the_connectors(tmp_path) -> None:
    a = write_tiny_gemma4(tmp_path / "a.safetensors", video_dim=24, audio_dim=12, seed=3)
    b = write_tiny_gemma4(tmp_path / "b.safetensors", video_dim=24, audio_dim=12, seed=3)
    assert a.read_bytes() == b.read_bytes()
    with safe_open(str(a), "np") as f:
        meta = json.loads(f.metadata()["gemma_config"])
        assert f.get_slice("text_embedding_projection.video_aggregate_embed.weight").get_shape() == [24, 64 * 5]
        assert f.get_slice("text_embedding_projection.audio_aggregate_embed.bias").get_shape() == [12]
    assert meta["gemma_version"] == "gemma4-12b-ltx-v1" and meta["model_type"] == "gemma4_unified"


def test_bfloat16_hidden_states_stay_close_to_float32(packed, encoder) -> None:
    # Attention without a 1/sqrt(d) scale makes the random tiny model sensitive to rounding (bf16 weights
    # alone move its last state by ~8%): compare directions and mean error, not the worst element.
    bf16 = load_gemma4_text_encoder(packed, dtype=mx.bfloat16, max_length=TINY_MAX_LENGTH)
    (s32, mask), (s16, _) = encoder(PROMPTS[:1]), bf16(PROMPTS[:1])
    valid = np.array(mask[0]).astype(bool)
    for a, b in zip(s32, s16):
        assert b.dtype == mx.bfloat16
        a, b = np.array(a[0])[valid], np.array(b[0].astype(mx.float32))[valid]
        cosine = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        assert cosine.min() > 0.9 and np.abs(a - b).mean() < 0.15 * np.abs(a).mean()
