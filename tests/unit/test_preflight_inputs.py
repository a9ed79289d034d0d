"""Bad input files are refused before any model loads, in one line naming the user's key:
malformed checkpoint headers, a file of the wrong kind, a LoRA that is not one or does not fit,
a conditioning image that does not decode, a prompt file that is not UTF-8 text, stray FP8 scales."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import mlx.core as mx
import pytest

from ltxmlx.config.preflight import preflight
from ltxmlx.errors import CheckpointError, ConfigError
from ltxmlx.loader.checkpoint import open_checkpoint
from ltxmlx.weights import resolve


def _file(path: Path, header, data: bytes = b"", raw_header: bytes | None = None) -> Path:
    body = raw_header if raw_header is not None else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(body)) + body + data)
    return path


def _t(dtype="F32", shape=(2,), start=0, end=8):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": [start, end]}


MALFORMED = {
    "negative dim": ({"a": _t(shape=(-2,))}, 8, "malformed shape"),
    "float dim": ({"a": _t(shape=(2.0,))}, 8, "malformed shape"),
    "shape as string": ({"a": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}, 8, "malformed shape"),
    "overlapping offsets": ({"a": _t(), "b": _t(start=4, end=12)}, 12, "overlap"),
    "gap": ({"a": _t(), "b": _t(start=12, end=20)}, 20, "unindexed bytes"),
    "metadata not a dict": ({"__metadata__": ["x"], "a": _t()}, 8, "__metadata__"),
    "entry not a dict": ({"a": [1, 2]}, 8, "not a JSON object"),
    "offsets reversed": ({"a": _t(start=8, end=0)}, 8, "data_offsets"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_header_is_one_clear_error(tmp_path, case):
    header, n, message = MALFORMED[case]
    f = _file(tmp_path / "bad.safetensors", header, b"\0" * n)
    with pytest.raises(CheckpointError, match=message) as err:
        open_checkpoint(f)
    assert "\n" not in str(err.value)


def test_deeply_nested_header_is_refused_without_recursion_crash(tmp_path):
    f = _file(tmp_path / "deep.safetensors", None, raw_header=b"[" * 200_000 + b"]" * 200_000)
    with pytest.raises(CheckpointError, match="nested too deeply|not JSON"):
        open_checkpoint(f)


def test_fp8_scale_beside_a_non_fp8_tensor_is_refused(tmp_path):
    f = _file(tmp_path / "scale.safetensors", {"w.weight": _t(dtype="BF16", shape=(2,), end=4),
                                                "w.weight_scale": _t(shape=(), start=4, end=8)}, b"\0" * 8)
    with pytest.raises(CheckpointError, match="FP8 scale 'w.weight_scale'.*BF16"):
        open_checkpoint(f)
    ok = _file(tmp_path / "fp8.safetensors", {"w.weight": _t(dtype="F8_E4M3", shape=(4,), end=4),
                                             "w.weight_scale": _t(shape=(), start=4, end=8)}, b"\0" * 8)
    assert open_checkpoint(ok).dtype("w.weight") == "F8_E4M3"


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    cache = tmp_path_factory.mktemp("weights")
    return cache, {n: resolve(f"tiny://{n}", cache) for n in ("checkpoint", "spatial_upsampler", "distilled_lora")}


def _pre(cache, *extra):
    return preflight(["+job=smoke", f"paths.cache={cache}", *extra])


def test_wrong_kind_file_as_model_names_what_it_holds(tiny_files, tmp_path):
    cache, files = tiny_files
    with pytest.raises(CheckpointError, match=r"model.checkpoint.*holds latent upsampler, not a transformer"):
        _pre(cache, f"model.checkpoint={files['spatial_upsampler']}", f"output_root={tmp_path}")


def test_lora_that_is_not_safetensors_is_refused_before_models(tiny_files, tmp_path):
    cache, _ = tiny_files
    bogus = tmp_path / "style.safetensors"
    bogus.write_text("<html>404 not found</html>")
    with pytest.raises(CheckpointError, match=r"lora.stack.0.weights.*not a safetensors file"):
        _pre(cache, f"lora.stack=[{{weights: '{bogus}', strength: 1.0}}]", f"output_root={tmp_path}")


def test_lora_for_another_model_is_refused_from_headers(tiny_files, tmp_path):
    cache, _ = tiny_files
    lora = tmp_path / "other.safetensors"
    mx.save_safetensors(str(lora), {"diffusion_model.blocks.0.proj.lora_A.weight": mx.zeros((4, 8)),
                                    "diffusion_model.blocks.0.proj.lora_B.weight": mx.zeros((8, 4))})
    with pytest.raises(CheckpointError, match=r"lora.stack.0.weights.*no weight in .*blocks.0.proj"):
        _pre(cache, f"lora.stack=[{{weights: '{lora}', strength: 1.0}}]", f"output_root={tmp_path}")


def test_conditioning_image_that_is_not_an_image(tiny_files, tmp_path):
    cache, _ = tiny_files
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"\x00" * 64)
    with pytest.raises(ConfigError, match=r"conditioning.0.images.0.path"):
        _pre(cache, f"conditioning=[{{name: start, images: [{{path: '{fake}', frame: 0}}]}}]", f"output_root={tmp_path}")


def test_binary_prompt_file_is_refused(tiny_files, tmp_path):
    cache, _ = tiny_files
    prompts = tmp_path / "prompts.txt"
    prompts.write_bytes(b"a cat\n\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match=r"prompt_file.*UTF-8"):
        _pre(cache, f"prompt_file={prompts}", f"output_root={tmp_path}")


def test_good_inputs_pass(tiny_files, tmp_path):
    cache, files = tiny_files
    assert len(_pre(cache, f"output_root={tmp_path}").configs) == 1
