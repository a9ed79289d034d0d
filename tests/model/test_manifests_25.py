"""Every tensor of the real LTX-2.5 split files maps one to one, by name and shape, onto our modules.

Modules are built from each file's own metadata config without allocating weights (lazy init). The
distilled LoRA manifest lists only the derivable part of the real file (attention and feed-forward
pairs of every block); for it we check that each pair fuses into a weight of our 2.5 transformer.
"""

from __future__ import annotations

import re

import pytest

from ltxmlx.loader.builder import module_shapes
from ltxmlx.loader.lora import LORA_PREFIX
from ltxmlx.loader.specs import registry
from ltxmlx.model.transformer import TransformerConfig

from tests.model.test_manifests import _check, _manifest, mapped_source

TRANSFORMER = "manifest_ltx25_transformer.json"
AUDIO = "manifest_ltx25_audio_vae.json"
LORA = "manifest_ltx25_distilled_lora_450.json"
CONNECTORS = re.compile(r"^model\.diffusion_model\.(video|audio)_embeddings_connector\.")

# registry component -> (manifest, the manifest components it loads; None: the whole file)
SPLIT_FILES = {
    "transformer": (TRANSFORMER, {"transformer"}),
    "audio_decoder": (AUDIO, {"audio_vae.decoder", "audio_vae.per_channel_statistics"}),
    "audio_encoder": (AUDIO, {"audio_vae.encoder", "audio_vae.per_channel_statistics"}),
    "vocoder": (AUDIO, {"vocoder"}),
    "spatial_upsampler": ("manifest_ltx25_spatial_upscaler_x2.json", None),
    "temporal_upsampler": ("manifest_ltx25_temporal_upscaler_x2.json", None),
    "duration_head": ("manifest_ltx25_duration_head.json", None),
}


def _tensors(manifest: dict) -> dict[str, tuple[int, ...]]:
    return {t["name"]: tuple(t["shape"]) for t in manifest["tensors"]}


@pytest.mark.parametrize("component", sorted(SPLIT_FILES))
def test_split_file_component_matches_manifest(component):
    name, groups = SPLIT_FILES[component]
    _check(component, _manifest(name), groups)


def test_transformer_file_is_the_25_layout():
    cfg = TransformerConfig.from_config(_manifest(TRANSFORMER)["metadata"]["config"]["transformer"])
    assert (cfg.ff_bias, cfg.audio_ff_bias, cfg.keyframes_embedding) == (False, True, True)
    assert module_shapes("transformer", _manifest(TRANSFORMER)["metadata"]["config"])[
        "keyframes_abs_pos_embedding"
    ] == (1, 4096)


@pytest.mark.parametrize("name", [TRANSFORMER, AUDIO])
def test_every_tensor_of_a_split_file_has_a_home(name):
    """What the transformer spec leaves in its file are exactly the text connectors (text path)."""
    manifest = _manifest(name)
    tensors = _tensors(manifest)
    claimed = set()
    for component, (file, _) in SPLIT_FILES.items():
        if file == name:
            claimed |= set(mapped_source(component, manifest["metadata"]["config"], tensors).values())
    left = set(tensors) - claimed
    if name == TRANSFORMER:
        assert left and all(CONNECTORS.match(k) for k in left), sorted(k for k in left if not CONNECTORS.match(k))[:5]
        connectors = {t["name"] for t in manifest["tensors"] if t["component"].endswith("_embeddings_connector")}
        assert left == connectors
    else:
        assert left == set()


def _lora_pairs(tensors: dict[str, tuple[int, ...]]) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    pairs = {}
    for key, a_shape in tensors.items():
        if key.endswith(".lora_A.weight"):
            module = key[: -len(".lora_A.weight")]
            pairs[module] = (a_shape, tensors[module + ".lora_B.weight"])
    return pairs


def test_distilled_lora_subset_fuses_into_the_25_transformer():
    config = _manifest(TRANSFORMER)["metadata"]["config"]
    ops = registry()["transformer"].ops(config)
    weights = module_shapes("transformer", config)
    tensors = _tensors(_manifest(LORA))
    pairs = _lora_pairs(tensors)
    assert 2 * len(pairs) == len(tensors), "every factor has its partner"
    for module, (a_shape, b_shape) in pairs.items():
        assert module.startswith(LORA_PREFIX)
        target = ops.map_key(ops.prefix + module[len(LORA_PREFIX):] + ".weight")
        assert target in weights, f"{module}: no weight {target} in the 2.5 transformer"
        rank = a_shape[0]
        assert rank == 450 and b_shape[1] == rank, f"{module}: A {a_shape} B {b_shape}"
        fused = (b_shape[0], a_shape[1])
        assert fused == weights[target], f"{module}: B @ A {fused} vs weight {weights[target]}"
    # The derivable subset: every attention projection and feed-forward linear of every block.
    linear = re.compile(r"^transformer_blocks\.\d+\.\w+\.(to_q|to_k|to_v|to_out\.0|net\.0\.proj|net\.2)\.weight$")
    expected = {k for k in weights if linear.match(k)}
    targets = {ops.map_key(ops.prefix + m[len(LORA_PREFIX):] + ".weight") for m in pairs}
    assert targets == expected
