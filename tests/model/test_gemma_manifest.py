"""The full-size checkpoints load one to one into the text-path modules their configs describe."""

from __future__ import annotations

import json
from math import prod
from pathlib import Path

import pytest

from ltxmlx.loader.builder import mapped_manifest_shapes, module_shapes
from ltxmlx.text_encoders.gemma.config import Gemma3TextConfig
from ltxmlx.text_encoders.gemma.embeddings_processor import TEXT_ENCODER_SECTION

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _assert_one_to_one(mapped: dict, expected: dict) -> None:
    assert sorted(set(expected) - set(mapped)) == [], "module parameters missing from the file"
    assert sorted(set(mapped) - set(expected)) == [], "file tensors the module does not have"
    assert {k: (mapped[k], expected[k]) for k in expected if mapped[k] != expected[k]} == {}


def test_gemma3_12b_language_model_maps_one_to_one() -> None:
    data = _load("manifest_gemma3_12b.json")
    config = data["config"]
    tensors = {t["name"]: tuple(t["shape"]) for t in data["tensors"]}
    mapped = mapped_manifest_shapes("gemma3", config, tensors)
    expected = module_shapes("gemma3", config)
    _assert_one_to_one(mapped, expected)
    language = {k: s for k, s in tensors.items() if k.startswith("language_model.model.")}
    assert len(mapped) == len(language) == 626  # vision tower and projector are left out
    assert sum(prod(s) for s in expected.values()) == sum(prod(s) for s in language.values()) == 11_766_034_176


@pytest.mark.parametrize(
    ("manifest", "params"),
    [("manifest_ltx2_19b.json", 354_470_400 * 2 + 722_534_400),
     ("manifest_ltx23_22b.json", 1_612_546_304 + 403_620_096 + 1_156_061_184)],
)
def test_embeddings_processor_maps_one_to_one(manifest: str, params: int) -> None:
    data = _load(manifest)
    gemma = Gemma3TextConfig.from_config(_load("manifest_gemma3_12b.json")["config"])
    config = {**data["metadata"]["config"],
              TEXT_ENCODER_SECTION: {"hidden_size": gemma.hidden_size, "num_hidden_states": gemma.num_hidden_states}}
    tensors = {t["name"]: tuple(t["shape"]) for t in data["tensors"]}
    mapped = mapped_manifest_shapes("embeddings_processor", config, tensors)
    expected = module_shapes("embeddings_processor", config)
    _assert_one_to_one(mapped, expected)
    text = [t for t in data["tensors"] if t["component"] != "transformer" and
            t["component"].split(".")[0] in ("video_embeddings_connector", "audio_embeddings_connector",
                                             "text_embedding_projection")]
    assert len(mapped) == len(text)
    assert sum(prod(s) for s in expected.values()) == params
