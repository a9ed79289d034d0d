"""The full-size released upsampler files load one to one into the modules their configs describe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ltxmlx.loader.builder import mapped_manifest_shapes, module_shapes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

CASES = [
    ("manifest_spatial_upscaler_x2.json", "spatial_upsampler", 126_250_624),
    ("manifest_temporal_upscaler_x2.json", "temporal_upsampler", 130_968_192),
]


@pytest.mark.parametrize(("manifest", "component", "params"), CASES)
def test_full_size_file_maps_one_to_one(manifest: str, component: str, params: int) -> None:
    data = json.loads((FIXTURES / manifest).read_text())
    config = data["metadata"]["config"]
    tensors = {t["name"]: tuple(t["shape"]) for t in data["tensors"]}
    mapped = mapped_manifest_shapes(component, config, tensors)
    expected = module_shapes(component, config)

    assert len(mapped) == len(tensors), "every tensor of the file must be loaded"
    assert sorted(set(expected) - set(mapped)) == [], "module parameters missing from the file"
    assert sorted(set(mapped) - set(expected)) == [], "file tensors the module does not have"
    wrong = {k: (mapped[k], expected[k]) for k in expected if mapped[k] != expected[k]}
    assert wrong == {}
    total = sum(_numel(s) for s in expected.values())
    assert total == params == data["param_count_total"]


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
