"""Weight references: parsing, local/offline resolution errors, file identities for records."""

from __future__ import annotations

import hashlib

import pytest

from ltxmlx.weights import MissingWeightsError, identity, parse, resolve


def test_parse_references():
    f = parse("hf://Lightricks/LTX-2/ltx-2-19b-dev.safetensors@abc123")
    assert (f.kind, f.repo, f.file, f.revision) == ("hf_file", "Lightricks/LTX-2", "ltx-2-19b-dev.safetensors", "abc123")
    r = parse("hf://google/gemma-3-12b-it-qat-q4_0-unquantized")
    assert (r.kind, r.repo, r.file) == ("hf_repo", "google/gemma-3-12b-it-qat-q4_0-unquantized", "")
    assert parse("tiny://checkpoint").kind == "tiny" and parse("~/w.safetensors").kind == "local"
    with pytest.raises(MissingWeightsError, match="hf://owner/repo"):
        parse("hf://just-a-name")


def test_missing_files_name_the_file_and_the_fix(tmp_path, monkeypatch):
    with pytest.raises(MissingWeightsError, match="not found"):
        resolve(str(tmp_path / "nope.safetensors"), tmp_path)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(MissingWeightsError, match=r"offline.*hf download Lightricks/LTX-2 x\.safetensors --revision v1"):
        resolve("hf://Lightricks/LTX-2/x.safetensors@v1", tmp_path, offline=True)


def test_identity_hashes_once_and_trusts_hub_blob_names(tmp_path):
    f = tmp_path / "w.safetensors"
    f.write_bytes(b"weights")
    cache = tmp_path / "hashes.json"
    info = identity(f, cache)
    assert info["sha256"] == hashlib.sha256(b"weights").hexdigest() and info["size"] == 7
    assert cache.is_file() and identity(f, cache) == info
    blob = tmp_path / "blobs" / ("ab" * 32)
    blob.parent.mkdir()
    blob.write_bytes(b"other")
    link = tmp_path / "model.safetensors"
    link.symlink_to(blob)
    assert identity(link)["sha256"] == "ab" * 32  # the Hub names blobs by their sha256
