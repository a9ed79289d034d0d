"""Prompt encoding: deduplication, batching, the on-disk cache, and freeing Gemma."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.text_encoders.gemma import (
    TINY_MAX_LENGTH,
    load_prompt_encoder,
    tiny_gemma_folder,
)

from tests.conftest import encode_prompts

LTX_22B = Path(__file__).resolve().parents[1] / "fixtures" / "parity" / "22b" / "tiny_22b.safetensors"
UNIQUE = ["a cat on a sofa", "a dog in the rain", "two birds over the sea", "a red car at night"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tiny_gemma_folder(tmp_path_factory.mktemp("tiny"))


def _encoder(folder, cache_dir=None, batch_size=8):
    return load_prompt_encoder(folder, LTX_22B, cache_dir=cache_dir, dtype=mx.float32,
                               max_length=TINY_MAX_LENGTH, batch_size=batch_size)


def test_sixteen_prompts_with_four_unique_run_gemma_on_four(folder, tmp_path) -> None:
    prompts = [UNIQUE[i % 4] for i in range(16)]
    with _encoder(folder, tmp_path / "cache", batch_size=3) as enc:
        out = encode_prompts(enc, prompts)
        assert enc.gemma_prompts == 4 and enc.gemma_batches == 2
    assert len(out) == 16
    for i in range(16):
        np.testing.assert_array_equal(np.array(out[i].video), np.array(out[i % 4].video))
    assert out[0].video.shape == (1, TINY_MAX_LENGTH, 32) and out[0].audio.shape == (1, TINY_MAX_LENGTH, 16)
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 4
    assert not list((tmp_path / "cache").glob(".tmp-*")), "no temporary files left behind"

    again = _encoder(folder, tmp_path / "cache")
    cached = encode_prompts(again, prompts)
    assert again.gemma_prompts == 0 and again._gemma is None, "a fully cached run never loads Gemma"
    np.testing.assert_array_equal(np.array(cached[5].audio), np.array(out[5].audio))


def test_same_prompt_alone_or_in_a_batch_gives_identical_embeddings(folder) -> None:
    batch = encode_prompts(_encoder(folder), UNIQUE)
    alone = encode_prompts(_encoder(folder), [UNIQUE[2]])[0]
    np.testing.assert_array_equal(np.array(alone.video), np.array(batch[2].video))
    np.testing.assert_array_equal(np.array(alone.audio), np.array(batch[2].audio))
    assert np.abs(np.array(batch[0].video) - np.array(batch[1].video)).max() > 1e-2, "different prompts differ"


def test_another_encoder_identity_misses_the_cache(folder, tmp_path) -> None:
    a = _encoder(folder, tmp_path / "cache")
    encode_prompts(a, UNIQUE[:1])
    b = load_prompt_encoder(folder, LTX_22B, cache_dir=tmp_path / "cache", dtype=mx.float32, max_length=256)
    assert b.identity != a.identity
    encode_prompts(b, UNIQUE[:1])
    assert b.gemma_prompts == 1


def test_close_releases_the_models(folder) -> None:
    enc = _encoder(folder)
    encode_prompts(enc, UNIQUE[:1])
    assert enc._gemma is not None
    enc.close()
    assert enc._gemma is None and enc._processor is None
