"""Tokenizer conventions (the official LTX ones) and the offline tiny tokenizer."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from ltxmlx.text_encoders.gemma import load_tokenizer, tiny_gemma_folder
from ltxmlx.text_encoders.gemma.tokenizer import TokenizerNotFoundError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tiny_gemma_folder(tmp_path_factory.mktemp("tiny"))


def test_prompts_are_left_padded_with_bos_first_and_no_eos(folder) -> None:
    tok = load_tokenizer(folder, max_length=16)
    ids, mask = tok(["  a cat ", "hi"])
    assert ids.shape == mask.shape == (2, 16)
    n = int(mask[0].sum())
    assert mask[0].tolist() == [0] * (16 - n) + [1] * n
    assert ids[0, 16 - n] == tok.bos_id == 2
    assert (ids[mask == 0] == tok.pad_id).all() and tok.pad_id == 0
    assert 1 not in ids[mask == 1].tolist()  # no <eos>
    assert tok.ids("a cat") == tok.ids("  a cat ")  # stripped


def test_long_prompts_are_truncated_to_max_length_keeping_bos(folder) -> None:
    tok = load_tokenizer(folder, max_length=16)
    ids, mask = tok(["x" * 100])
    assert mask.sum() == 16 and ids[0, 0] == tok.bos_id


def test_missing_tokenizer_files_are_named(tmp_path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(TokenizerNotFoundError, match="tokenizer.json"):
        load_tokenizer(tmp_path)


def test_uncached_repo_id_fails_without_downloading(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TokenizerNotFoundError, match="local cache"):
        load_tokenizer("no-such-org/no-such-gemma")


def test_tiny_folder_is_byte_identical_across_machines(tmp_path, folder) -> None:
    other = tiny_gemma_folder(tmp_path)

    def digest(path):
        return hashlib.sha256(path.read_bytes()).hexdigest()

    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert digest(other / name) == digest(folder / name), name
    assert not np.array_equal(
        (tiny_gemma_folder(tmp_path, seed=1) / "model.safetensors").read_bytes()[-256:],
        (other / "model.safetensors").read_bytes()[-256:],
    )
