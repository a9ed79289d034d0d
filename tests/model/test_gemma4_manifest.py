"""The full-size LTX-2.5 text files load one to one into the Gemma 4 and embeddings-processor modules."""

from __future__ import annotations

import json
import re
from math import prod
from pathlib import Path

from ltxmlx.loader.builder import mapped_manifest_shapes, module_shapes
from ltxmlx.text_encoders.gemma.embeddings_processor import TEXT_ENCODER_SECTION
from ltxmlx.text_encoders.gemma4.config import Gemma4TextConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# What the Gemma 4 loader leaves out on purpose: the text projection (the embeddings processor's),
# the vision / audio embedders, the tokenizer and sidecar byte tensors.
IGNORED = re.compile(
    r"^(text_embedding_projection\.|multi_modal_projector\.|audio_projector\.|tokenizer_json$|hf_asset__)"
)


def _load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _assert_one_to_one(mapped: dict, expected: dict) -> None:
    assert sorted(set(expected) - set(mapped)) == [], "module parameters missing from the file"
    assert sorted(set(mapped) - set(expected)) == [], "file tensors the module does not have"
    assert {k: (mapped[k], expected[k]) for k in expected if mapped[k] != expected[k]} == {}


def test_gemma4_12b_language_model_maps_one_to_one() -> None:
    data = _load("manifest_ltx25_gemma4_12b_with_proj.json")
    config = data["metadata"]["gemma_config"]
    tensors = {t["name"]: tuple(t["shape"]) for t in data["tensors"]}
    mapped = mapped_manifest_shapes("gemma4", config, tensors)
    expected = module_shapes("gemma4", config)
    _assert_one_to_one(mapped, expected)
    lm = {t["name"] for t in data["tensors"] if t["component"] == "gemma4_language_model"}
    assert {"model." + k for k in mapped} == lm
    rest = set(tensors) - lm
    assert rest and all(IGNORED.match(k) for k in rest), sorted(k for k in rest if not IGNORED.match(k))
    assert len(mapped) == 666
    params = data["param_count_by_component"]["gemma4_language_model"]["params"]
    assert sum(prod(s) for s in expected.values()) == params
    # 8 full-attention layers (every 6th) take their values from k_proj: no v_proj, head_dim 512, 1 KV head.
    assert "layers.5.self_attn.v_proj.weight" not in expected
    assert expected["layers.5.self_attn.k_proj.weight"] == (512, 3840)
    assert expected["layers.0.self_attn.v_proj.weight"] == (8 * 256, 3840)


def test_ltx25_embeddings_processor_maps_one_to_one_from_the_file_pair() -> None:
    transformer = _load("manifest_ltx25_transformer.json")
    te = _load("manifest_ltx25_gemma4_12b_with_proj.json")
    gemma = Gemma4TextConfig.from_config(te["metadata"]["gemma_config"])
    assert gemma.gemma_version == transformer["metadata"]["gemma_source_checkpoint"]["gemma_version"]
    config = {**transformer["metadata"]["config"],
              TEXT_ENCODER_SECTION: {"hidden_size": gemma.hidden_size, "num_hidden_states": gemma.num_hidden_states}}
    tensors = {t["name"]: tuple(t["shape"]) for t in transformer["tensors"] + te["tensors"]}
    mapped = mapped_manifest_shapes("embeddings_processor", config, tensors)
    expected = module_shapes("embeddings_processor", config)
    _assert_one_to_one(mapped, expected)
    connectors = [t for t in transformer["tensors"] if t["component"] != "transformer"]
    projection = [t for t in te["tensors"] if t["component"] == "text_embedding_projection"]
    assert len(mapped) == len(connectors) + len(projection) == 258 + 4
    assert expected["feature_extractor.video_aggregate_embed.weight"] == (4096, 49 * 3840)
    assert expected["feature_extractor.audio_aggregate_embed.weight"] == (2048, 49 * 3840)
