"""The real LTX-2.5 video VAE files (conv and diffusion) map one to one onto our modules.

Modules are built from each file's metadata config with MLX's lazy initialisation (no weights
allocated); the diffusion decoder's static gates are folded away by the loader, so they must leave
no module key behind, and its `coarse_*` preview tensors must be dropped on purpose.
"""

import json
from functools import lru_cache

import pytest

from ltxmlx.loader.builder import mapped_manifest_shapes, module_shapes
from ltxmlx.loader.specs import registry
from tests.conftest import FIXTURES

FILES = {
    "conv": "manifest_ltx25_video_vae_conv.json",
    "diffusion": "manifest_ltx25_video_vae_diffusion.json",
}
# registry component -> manifest tensor groups it loads, per file (the statistics-only component
# has its own key table and tests)
COMPONENTS = {
    "conv": {
        "video_encoder": {"encoder", "per_channel_statistics"},
        "video_decoder": {"decoder", "per_channel_statistics"},
    },
    "diffusion": {
        "video_encoder": {"encoder", "per_channel_statistics"},
        "video_decoder_diffusion": {"decoder", "decoder.static_gates", "per_channel_statistics"},
    },
}
CASES = [(kind, component) for kind in FILES for component in COMPONENTS[kind]]


@lru_cache(maxsize=None)
def _manifest(kind: str) -> dict:
    return json.loads((FIXTURES / FILES[kind]).read_text())


def _tensors(kind: str) -> dict[str, tuple[int, ...]]:
    return {t["name"]: tuple(t["shape"]) for t in _manifest(kind)["tensors"]}


def _config(kind: str) -> dict:
    return _manifest(kind)["metadata"]["config"]


@pytest.mark.parametrize("kind, component", CASES)
def test_component_selects_exactly_its_tensors(kind, component):
    tensors = _tensors(kind)
    selected = set(registry()[component].ops(_config(kind)).map_keys(tensors).values())
    expected = {t["name"] for t in _manifest(kind)["tensors"] if t["component"] in COMPONENTS[kind][component]}
    assert selected == expected, f"foreign {sorted(selected - expected)[:3]} missed {sorted(expected - selected)[:3]}"


@pytest.mark.parametrize("kind, component", CASES)
def test_component_matches_manifest_one_to_one(kind, component):
    config = _config(kind)
    mapped = mapped_manifest_shapes(component, config, _tensors(kind))
    model = module_shapes(component, config)
    missing, unexpected = sorted(set(model) - set(mapped)), sorted(set(mapped) - set(model))
    assert not missing and not unexpected, f"missing {missing[:5]} unexpected {unexpected[:5]}"
    bad = {k: (mapped[k], model[k]) for k in model if mapped[k] != model[k]}
    assert not bad, f"shape mismatches: {list(bad.items())[:5]}"


@pytest.mark.parametrize("kind", sorted(FILES))
def test_every_tensor_of_the_file_has_a_home(kind):
    tensors = _tensors(kind)
    claimed = set()
    for component in COMPONENTS[kind]:
        claimed |= set(registry()[component].ops(_config(kind)).map_keys(tensors).values())
    assert set(tensors) == claimed


def test_static_gates_fold_away_and_leave_their_linears():
    config = _config("diffusion")
    tensors = _tensors("diffusion")
    gates = [k for k in tensors if k.rsplit(".", 1)[-1].startswith("gate_")]
    assert len(gates) == 24  # 8 stage-5 blocks x (msa, mlp, ctx)
    mapped = mapped_manifest_shapes("video_decoder_diffusion", config, tensors)
    assert not [k for k in mapped if "gate_" in k]
    assert mapped["diff_blocks.7.attn.proj.weight"] == (256, 256)


def test_coarse_preview_tensors_are_dropped():
    ops = registry()["video_decoder_diffusion"].ops(_config("diffusion"))
    assert ops.map_key("decoder.coarse_head.proj.weight") is None
    assert ops.map_key("vae.decoder.coarse_out.bias") is None
    assert ops.map_key("decoder.conv_out.weight") == "conv_out.weight"
