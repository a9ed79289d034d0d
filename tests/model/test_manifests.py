"""Every tensor of the real full-size checkpoints maps one to one, by name and shape, onto our modules.

The modules are built from the real files' metadata configs with MLX's lazy initialisation, so no
weights are allocated. A loader that accepts these manifests accepts the real files.
"""

import json
from functools import lru_cache

import pytest

from ltxmlx.loader.builder import mapped_manifest_shapes, module_shapes
from ltxmlx.loader.specs import registry
from ltxmlx.text_encoders.gemma.config import Gemma3TextConfig
from ltxmlx.text_encoders.gemma.embeddings_processor import TEXT_ENCODER_SECTION

from tests.conftest import FIXTURES

SINGLE_FILES = {"19b": "manifest_ltx2_19b.json", "22b": "manifest_ltx23_22b.json"}
# registry component -> the manifest components (prefix groups) it loads
SINGLE_FILE_COMPONENTS = {
    "transformer": {"transformer"},
    "video_encoder": {"vae.encoder", "vae.per_channel_statistics"},
    "video_decoder": {"vae.decoder", "vae.per_channel_statistics"},
    "video_latent_stats": {"vae.per_channel_statistics"},
    "audio_encoder": {"audio_vae.encoder", "audio_vae.per_channel_statistics"},
    "audio_decoder": {"audio_vae.decoder", "audio_vae.per_channel_statistics"},
    "vocoder": {"vocoder"},
    "embeddings_processor": {"video_embeddings_connector", "audio_embeddings_connector", "text_embedding_projection"},
}
UPSAMPLER_FILES = {
    "spatial_upsampler": "manifest_spatial_upscaler_x2.json",
    "temporal_upsampler": "manifest_temporal_upscaler_x2.json",
}


@lru_cache(maxsize=None)
def _manifest(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _config(component: str, manifest: dict) -> dict:
    config = manifest["metadata"]["config"]
    if component == "embeddings_processor":
        # the feature extractor's input width comes from the Gemma model, as in the official loader
        gemma = Gemma3TextConfig.from_config(_manifest("manifest_gemma3_12b.json")["config"])
        section = {"hidden_size": gemma.hidden_size, "num_hidden_states": gemma.num_hidden_states}
        config = {**config, TEXT_ENCODER_SECTION: section}
    return config


def _check(component: str, manifest: dict, groups: set[str] | None):
    config = _config(component, manifest)
    tensors = {t["name"]: tuple(t["shape"]) for t in manifest["tensors"]}
    mapped = mapped_manifest_shapes(component, config, tensors)
    if groups is not None:
        expected_names = {t["name"] for t in manifest["tensors"] if t["component"] in groups}
        selected = set(mapped_source(component, config, tensors).values())
        assert selected == expected_names, (
            f"key ops select {len(selected - expected_names)} foreign and miss {len(expected_names - selected)} tensors"
        )
    model = module_shapes(component, config)
    missing, unexpected = sorted(set(model) - set(mapped)), sorted(set(mapped) - set(model))
    assert not missing and not unexpected, f"missing {missing[:5]} unexpected {unexpected[:5]}"
    bad = {k: (mapped[k], model[k]) for k in model if mapped[k] != model[k]}
    assert not bad, f"shape mismatches: {list(bad.items())[:5]}"


def mapped_source(component, config, tensors):
    return registry()[component].ops(config).map_keys(tensors)


@pytest.mark.parametrize("gen", sorted(SINGLE_FILES))
@pytest.mark.parametrize("component", sorted(SINGLE_FILE_COMPONENTS))
def test_single_file_component_matches_manifest(gen, component):
    _check(component, _manifest(SINGLE_FILES[gen]), SINGLE_FILE_COMPONENTS[component])


@pytest.mark.parametrize("component", sorted(UPSAMPLER_FILES))
def test_upsampler_matches_manifest(component):
    _check(component, _manifest(UPSAMPLER_FILES[component]), None)


@pytest.mark.parametrize("gen", sorted(SINGLE_FILES))
def test_every_tensor_of_the_single_file_has_a_home(gen):
    """No tensor of the real file is silently left behind by all components together."""
    manifest = _manifest(SINGLE_FILES[gen])
    tensors = {t["name"]: tuple(t["shape"]) for t in manifest["tensors"]}
    claimed = set()
    for component in SINGLE_FILE_COMPONENTS:
        claimed |= set(mapped_source(component, _config(component, manifest), tensors).values())
    assert set(tensors) - claimed == set()
