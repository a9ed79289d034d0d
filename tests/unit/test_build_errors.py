"""Building a component from the wrong file fails with one clear message."""

import json

import mlx.core as mx
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from ltxmlx.errors import CheckpointError, ConfigError, LtxmlxError
from ltxmlx.loader import build, open_checkpoint

from tests.conftest import PARITY


def test_building_the_wrong_upsampler_kind_is_refused():
    with pytest.raises(ConfigError, match="this file is spatial"):
        build("temporal_upsampler", PARITY / "common/tiny_spatial_upscaler_x2.safetensors", dtype=mx.float32)


def test_building_the_transformer_from_an_upsampler_file_names_the_problem():
    with pytest.raises(CheckpointError, match="no 'transformer' entry"):
        build("transformer", PARITY / "common/tiny_spatial_upscaler_x2.safetensors", dtype=mx.float32)


def test_building_the_upsampler_from_the_single_file_is_refused():
    with pytest.raises(LtxmlxError):
        build("spatial_upsampler", PARITY / "19b/tiny_19b.safetensors", dtype=mx.float32)


def test_unsupported_config_value_names_key_and_value(tmp_path):
    src = PARITY / "19b/tiny_19b.safetensors"
    ckpt = open_checkpoint(src)
    config = json.loads(json.dumps(ckpt.config))
    config["transformer"]["rope_type"] = "interleaved"
    path = tmp_path / "bad.safetensors"
    with safe_open(str(src), "np") as f:
        save_file({k: f.get_tensor(k) for k in f.keys()}, str(path), metadata={"config": json.dumps(config)})
    with pytest.raises(ConfigError, match="rope_type.*interleaved"):
        build("transformer", path, dtype=mx.float32)


def test_unknown_component_lists_the_known_ones():
    with pytest.raises(LtxmlxError, match="known: .*transformer"):
        build("transfromer", PARITY / "19b/tiny_19b.safetensors")
