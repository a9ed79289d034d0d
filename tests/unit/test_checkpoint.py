"""The loader refuses bad files with one clear message and loads good ones lazily and strictly."""

import json
import struct

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from safetensors.numpy import save_file

from ltxmlx.errors import CheckpointError, MissingKeysError
from ltxmlx.loader.builder import load_weights, mapped_weights
from ltxmlx.loader.checkpoint import open_checkpoint
from ltxmlx.loader.key_ops import KeyOps


def _write_raw(path, header: dict, data: bytes):
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + data)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(2, 2)


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "t.safetensors"
    save_file({"a": np.ones((64, 64), np.float32)}, str(path), metadata={"config": "{}"})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(CheckpointError, match="truncated"):
        open_checkpoint(path)


def test_non_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes(b"PK\x03\x04 this is a zip file, not safetensors" * 4)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        open_checkpoint(path)
    (tmp_path / "short.safetensors").write_bytes(b"abc")
    with pytest.raises(CheckpointError, match="too short"):
        open_checkpoint(tmp_path / "short.safetensors")
    with pytest.raises(CheckpointError, match="not found"):
        open_checkpoint(tmp_path / "missing.safetensors")


def test_missing_config_metadata_is_named(tmp_path):
    path = tmp_path / "n.safetensors"
    save_file({"a": np.ones(3, np.float32)}, str(path), metadata={"model_version": "2.0.0"})
    ckpt = open_checkpoint(path)
    assert ckpt.metadata == {"model_version": "2.0.0"} or ckpt.metadata["model_version"] == "2.0.0"
    with pytest.raises(CheckpointError, match="no 'config'"):
        ckpt.config


def test_metadata_json_is_decoded(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({"a": np.ones(3, np.float32)}, str(path), metadata={"config": json.dumps({"vae": {"dims": 3}})})
    assert open_checkpoint(path).config == {"vae": {"dims": 3}}


def test_fp8_weight_is_dequantized_with_its_scale(tmp_path):
    # E4M3 bytes for 1, 2, -1, 448 with a per-tensor scale of 0.5
    path = tmp_path / "f8.safetensors"
    _write_raw(
        path,
        {"m.proj.weight": {"dtype": "F8_E4M3", "shape": [2, 2], "data_offsets": [0, 4]},
         "m.proj.weight_scale": {"dtype": "F32", "shape": [], "data_offsets": [4, 8]},
         "m.proj.bias": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]},
         "__metadata__": {"config": "{}"}},
        bytes([0x38, 0x40, 0xB8, 0x7E]) + np.float32(0.5).tobytes() + np.zeros(2, np.float32).tobytes(),
    )
    w = mapped_weights(open_checkpoint(path), KeyOps(prefix="m."), mx.bfloat16)
    assert set(w) == {"proj.weight", "proj.bias"}
    assert w["proj.weight"].dtype == mx.bfloat16
    np.testing.assert_array_equal(np.array(w["proj.weight"].astype(mx.float32)), [[0.5, 1.0], [-0.5, 224.0]])


def test_fp8_weight_without_scale_is_refused(tmp_path):
    path = tmp_path / "f8.safetensors"
    _write_raw(path, {"w.weight": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}}, bytes(4))
    with pytest.raises(CheckpointError, match="weight_scale"):
        mapped_weights(open_checkpoint(path), KeyOps(), mx.float32)


def test_strict_load_names_missing_and_unexpected_keys():
    module = Tiny()
    weights = {"proj.weight": mx.zeros((2, 2)), "proj.extra": mx.zeros(2)}
    with pytest.raises(MissingKeysError) as err:
        load_weights(module, weights, "tiny")
    assert "proj.bias" in str(err.value) and "proj.extra" in str(err.value)


def test_strict_load_names_shape_mismatch():
    with pytest.raises(CheckpointError, match=r"proj.weight: checkpoint \(3, 2\) vs model \(2, 2\)"):
        load_weights(Tiny(), {"proj.weight": mx.zeros((3, 2)), "proj.bias": mx.zeros(2)}, "tiny")


def test_key_ops_select_exclude_rename_transpose():
    ops = KeyOps(
        prefix={"model.diffusion_model.": "", "text.": "fe."},
        exclude=(r"^connector\.",),
        ignore=(r"\.unused$",),
        renames=((r"mean-of-means", "mean_of_means"),),
        transposes=((r"conv\.weight$", (0, 2, 3, 1)),),
    )
    keys = ["model.diffusion_model.a.weight", "model.diffusion_model.connector.x", "text.stats.mean-of-means",
            "text.b.unused", "vae.c", "model.diffusion_model.conv.weight"]
    assert ops.map_keys(keys) == {
        "a.weight": "model.diffusion_model.a.weight", "fe.stats.mean_of_means": "text.stats.mean-of-means",
        "conv.weight": "model.diffusion_model.conv.weight",
    }
    assert ops.mapped_shape("conv.weight", (8, 3, 5, 7)) == (8, 5, 7, 3)


def test_tensors_are_read_lazily(tmp_path):
    path = tmp_path / "big.safetensors"
    save_file({f"t{i}": np.full((256, 1024), i, np.float32) for i in range(8)}, str(path), metadata={"config": "{}"})
    mx.clear_cache()
    before = mx.get_active_memory()
    ckpt = open_checkpoint(path)
    arrays = [ckpt.tensor(f"t{i}") for i in range(8)]
    assert mx.get_active_memory() - before < 1024 * 1024  # nothing materialised yet
    assert float(arrays[3].sum()) == 3 * 256 * 1024
