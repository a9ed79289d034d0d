"""The text-encoder interface: Gemma 3 / Gemma 4 mix-ups and version mismatches refused from headers,
and the Gemma 4 prompt encoder batched, de-duplicated and cached like the Gemma 3 one."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from ltxmlx.errors import CheckpointError, ConfigError
from ltxmlx.pipelines.api import RenderItem
from ltxmlx.pipelines.config import ModelFiles, PipelineConfig
from ltxmlx.pipelines.text_stage import TextStage
from ltxmlx.text_encoders import TEXT_ENCODERS, text_encoder_kind
from ltxmlx.text_encoders.gemma import tiny_gemma_folder
from ltxmlx.text_encoders.gemma4.tiny import TINY_MAX_LENGTH, write_tiny_gemma4

from tests.conftest import PARITY, encode_prompts, tiny_checkpoint

LTX25 = PARITY / "25" / "tiny_ltx-2.5-distilled-transformer.safetensors"
PACKED_FIXTURE = PARITY / "25" / "tiny_gemma4-with-proj-ltx-2.5.safetensors"
UNIQUE = ["a cat on a sofa", "a dog in the rain", "two birds over the sea", "a red car at night"]


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    # Sized for the 2.5 fixture transformer's connectors (video 2x8, audio 2x4).
    return write_tiny_gemma4(tmp_path_factory.mktemp("g4") / "te.safetensors", video_dim=16, audio_dim=8)


@pytest.fixture(scope="module")
def gemma3_folder(tmp_path_factory):
    return tiny_gemma_folder(tmp_path_factory.mktemp("g3"))


def _encoder(packed, cache_dir=None, batch_size=8, max_length=TINY_MAX_LENGTH):
    return TEXT_ENCODERS["gemma4"].prompt_encoder(packed, LTX25, cache_dir=cache_dir, dtype=mx.float32,
                                                  max_length=max_length, batch_size=batch_size)


def test_an_unknown_kind_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="gemma3, gemma4"):
        text_encoder_kind("gemma5")


def test_matching_pairs_pass_the_checks(packed, gemma3_folder) -> None:
    TEXT_ENCODERS["gemma4"].check(PACKED_FIXTURE, LTX25)
    TEXT_ENCODERS["gemma4"].check(packed, LTX25)
    TEXT_ENCODERS["gemma3"].check(gemma3_folder, tiny_checkpoint("22b"))
    TEXT_ENCODERS["gemma3"].check(PARITY / "common" / "tiny_gemma3" / "model.safetensors", tiny_checkpoint("19b"))


def test_a_gemma_version_mismatch_is_refused_naming_both(tmp_path) -> None:
    other = write_tiny_gemma4(tmp_path / "other.safetensors", video_dim=16, audio_dim=8, gemma_version="gemma4-27b-x")
    with pytest.raises(CheckpointError, match="gemma4-12b-ltx-v1.*gemma4-27b-x") as err:
        _encoder(other)
    assert str(LTX25) in str(err.value) and str(other) in str(err.value)
    with pytest.raises(CheckpointError, match="mismatch"):
        TEXT_ENCODERS["gemma4"].check(other, LTX25)


def test_gemma3_folder_given_to_gemma4_is_refused(gemma3_folder) -> None:
    with pytest.raises(CheckpointError, match="'gemma3' folder.*packed Gemma 4"):
        TEXT_ENCODERS["gemma4"].check(gemma3_folder, LTX25)
    with pytest.raises(CheckpointError, match="no 'gemma_config' metadata.*config.json"):
        TEXT_ENCODERS["gemma4"].check(gemma3_folder / "model.safetensors", LTX25)


def test_gemma4_file_given_to_gemma3_is_refused(packed, gemma3_folder) -> None:
    with pytest.raises(CheckpointError, match="packed 'gemma4_unified' text encoder"):
        TEXT_ENCODERS["gemma3"].check(packed, tiny_checkpoint("22b"))
    # A 2.5 transformer declares the Gemma 4 it was trained with: a Gemma 3 folder does not match it.
    with pytest.raises(CheckpointError, match="gemma4-12b-ltx-v1.*None"):
        TEXT_ENCODERS["gemma3"].check(gemma3_folder, LTX25)


def test_a_pre_25_transformer_with_gemma4_is_refused(packed) -> None:
    with pytest.raises(CheckpointError, match="expects a Gemma 3 text encoder.*gemma4_unified"):
        TEXT_ENCODERS["gemma4"].check(packed, tiny_checkpoint("22b"))


def test_an_encoder_without_its_projection_is_refused(packed, tmp_path) -> None:
    with safe_open(str(packed), "np") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("text_embedding_projection.")}
    bare = tmp_path / "bare.safetensors"
    save_file(tensors, str(bare), metadata=meta)
    with pytest.raises(CheckpointError, match="with proj"):
        TEXT_ENCODERS["gemma4"].check(bare, LTX25)


def test_repeated_prompts_run_gemma4_once_and_a_second_encode_loads_nothing(packed, tmp_path) -> None:
    prompts = [UNIQUE[i % 4] for i in range(12)]
    with _encoder(packed, tmp_path / "cache", batch_size=3) as enc:
        out = encode_prompts(enc, prompts)
        assert enc.gemma_prompts == 4 and enc.gemma_batches == 2
    assert enc._gemma is None and enc._processor is None, "Gemma 4 and the processor are freed after use"
    assert out[0].video.shape == (1, TINY_MAX_LENGTH, 16) and out[0].audio.shape == (1, TINY_MAX_LENGTH, 8)
    for i in range(12):
        np.testing.assert_array_equal(np.array(out[i].video), np.array(out[i % 4].video))
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 4

    again = _encoder(packed, tmp_path / "cache")
    cached = encode_prompts(again, prompts)
    assert again.gemma_prompts == 0 and again._gemma is None and again._processor is None
    np.testing.assert_array_equal(np.array(cached[5].audio), np.array(out[5].audio))
    assert _encoder(packed, max_length=64).identity != again.identity, "the max length keys the cache"


def test_a_prompt_gives_the_same_embeddings_alone_and_in_a_batch(packed) -> None:
    batch = encode_prompts(_encoder(packed), UNIQUE)
    alone = encode_prompts(_encoder(packed), [UNIQUE[2]])[0]
    np.testing.assert_allclose(np.array(alone.video), np.array(batch[2].video), rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.array(alone.audio), np.array(batch[2].audio), rtol=0, atol=1e-5)
    assert np.abs(np.array(batch[0].video) - np.array(batch[1].video)).max() > 1e-2, "different prompts differ"


def test_text_stage_uses_the_configured_kind(packed) -> None:
    cfg = PipelineConfig(kind="distilled", files=ModelFiles(checkpoint=str(LTX25), text_encoder=str(packed)),
                         height=64, width=64, num_frames=9, dtype="float32", text_max_length=TINY_MAX_LENGTH)
    stage = TextStage(cfg, negatives=False, kind="gemma4")
    item = RenderItem(id="a", prompt=UNIQUE[0], negative_prompt="", seed=0)
    with stage:
        outputs = encode_prompts_stage(stage, [item])
    np.testing.assert_allclose(np.array(outputs[0]["context.video"]),
                               np.array(encode_prompts(_encoder(packed), UNIQUE[:1])[0].video), rtol=0, atol=1e-6)
    gemma3 = TextStage(cfg, negatives=False, kind="gemma3")
    assert stage.key_inputs(item) != gemma3.key_inputs(item)
    assert stage.key_inputs(item)["text_encoder"]["size"] == packed.stat().st_size, "the file's identity keys the stage"
    with pytest.raises(CheckpointError, match="packed 'gemma4_unified'"):
        gemma3.__enter__()


def encode_prompts_stage(stage, items):
    run = stage.run(items, [{} for _ in items])
    while True:
        try:
            event = next(run)
        except StopIteration as stop:
            return stop.value
        mx.eval(event.state.video, event.state.audio, event.state.mask)
