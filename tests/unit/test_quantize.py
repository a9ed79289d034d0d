"""Build-time weight quantization and the quantized-weights cache, on the tiny LTX-2 transformer."""

from __future__ import annotations

import logging
import shutil

import mlx.core as mx
import pytest
from mlx import nn

from ltxmlx.config.compose import compose_config
from ltxmlx.config.validate import to_run_config, validate
from ltxmlx.errors import CheckpointError, ConfigError, LtxmlxError
from ltxmlx.loader import builder, build, quant_cache
from ltxmlx.loader.quant_cache import QuantCache
from ltxmlx.model.transformer import Modality

from tests.conftest import PARITY

SOURCE = PARITY / "19b/tiny_19b.safetensors"
# Relative RMS error of the tiny transformer's video / audio output against the unquantized model that
# a quantized build must stay within (measured: int8 0.4 % / 0.1 %, int4 4.9 % / 1.6 %).
TOLERANCE = {"int8": 0.015, "int4": 0.08}


@pytest.fixture(scope="module")
def inputs():
    f, h, w, ta, s, batch = 2, 4, 4, 8, 16, 2
    tv = f * h * w
    k = mx.random.split(mx.random.key(3), 4)
    fi, hi, wi = mx.meshgrid(mx.arange(f), mx.arange(h), mx.arange(w), indexing="ij")
    t0, hs, ws = fi.reshape(-1) * 8 / 24.0, hi.reshape(-1) * 32.0, wi.reshape(-1) * 32.0
    vpos = mx.stack([mx.stack([t0, t0 + 8 / 24], -1), mx.stack([hs, hs + 32], -1), mx.stack([ws, ws + 32], -1)])
    apos = mx.stack([mx.arange(ta) * 0.04, mx.arange(ta) * 0.04 + 0.04], -1)[None]
    sigma = mx.full((batch,), 0.7)
    video = Modality(latent=mx.random.normal((batch, tv, 4), key=k[0]), sigma=sigma,
                     timesteps=mx.full((batch, tv, 1), 0.7), positions=mx.broadcast_to(vpos[None], (batch, 3, tv, 2)),
                     context=mx.random.normal((batch, s, 64), key=k[1]))
    audio = Modality(latent=mx.random.normal((batch, ta, 32), key=k[2]), sigma=sigma,
                     timesteps=mx.full((batch, ta, 1), 0.7), positions=mx.broadcast_to(apos[None], (batch, 1, ta, 2)),
                     context=mx.random.normal((batch, s, 64), key=k[3]))
    return video, audio


@pytest.fixture(scope="module")
def reference(inputs):
    return build("transformer", SOURCE, dtype=mx.float32)(*inputs)


def rel_rms(a: mx.array, b: mx.array) -> float:
    return float(mx.sqrt(mx.mean((a - b) ** 2) / mx.mean(b**2)).item())


def quantized_layers(model: nn.Module) -> list[str]:
    return [p for p, m in model.named_modules() if isinstance(m, nn.QuantizedLinear)]


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_quantized_tiny_transformer_stays_close_to_the_unquantized_one(mode, inputs, reference):
    model = build("transformer", SOURCE, dtype=mx.float32, quantization=mode)
    layers = quantized_layers(model)
    # Every attention and feed-forward projection of the video stream (32 wide, group 32) is quantized;
    # AdaLN, patchify / output projections and gate logits stay in float32 (the table).
    assert any(p.endswith("attn1.to_q") for p in layers) and any(".ff.net.2" in p for p in layers)
    assert not any("adaln" in p or "proj_out" in p or "gate_logits" in p for p in layers)
    video, audio = model(*inputs)
    assert rel_rms(video, reference[0]) < TOLERANCE[mode]
    assert rel_rms(audio, reference[1]) < TOLERANCE[mode]
    assert rel_rms(video, reference[0]) > 0  # the weights really changed


def test_second_build_loads_the_cache_without_opening_the_source(tmp_path, inputs, monkeypatch):
    source = tmp_path / "tiny.safetensors"
    shutil.copy(SOURCE, source)
    cache = QuantCache(tmp_path / "quantized")
    first = build("transformer", source, dtype=mx.float32, quantization="int8", quant_cache=cache)
    files = list((tmp_path / "quantized").glob("transformer-int8-*.safetensors"))
    assert len(files) == 1

    opened = []
    real_open, real_fingerprint = builder.open_checkpoint, quant_cache.content_fingerprint
    monkeypatch.setattr(builder, "open_checkpoint", lambda p: opened.append(str(p)) or real_open(p))
    monkeypatch.setattr(quant_cache, "content_fingerprint",
                        lambda ps: opened.extend(map(str, ps)) or real_fingerprint(ps))
    second = build("transformer", source, dtype=mx.float32, quantization="int8", quant_cache=cache)
    assert opened == []  # neither the loader nor the fingerprint touched the source file
    assert quantized_layers(second) == quantized_layers(first)
    for a, b in zip(first(*inputs), second(*inputs)):
        assert mx.array_equal(a, b)


def test_the_cache_key_follows_the_source_content(tmp_path):
    source = tmp_path / "tiny.safetensors"
    shutil.copy(SOURCE, source)
    cache = QuantCache(tmp_path / "quantized")
    mode = builder.quantize.QUANT_MODES["int4"]
    before = cache.entry("transformer", source, mode, mx.float32).path
    data = bytearray(source.read_bytes())
    data[-8:] = bytes(8) if data[-8:] != bytes(8) else b"\x01" * 8  # new content, same size
    source.write_bytes(bytes(data))
    assert cache.entry("transformer", source, mode, mx.float32).path != before
    assert cache.entry("transformer", source, builder.quantize.QUANT_MODES["int8"], mx.float32).path != before


def test_a_truncated_cache_file_is_rebuilt_not_used(tmp_path, inputs, caplog):
    cache = QuantCache(tmp_path / "quantized")
    good = build("transformer", SOURCE, dtype=mx.float32, quantization="int4", quant_cache=cache)
    (entry,) = (tmp_path / "quantized").glob("transformer-int4-*.safetensors")
    size = entry.stat().st_size
    entry.write_bytes(entry.read_bytes()[: size // 2])
    with caplog.at_level(logging.WARNING, logger="ltxmlx.loader.quant_cache"):
        rebuilt = build("transformer", SOURCE, dtype=mx.float32, quantization="int4", quant_cache=cache)
    assert "corrupt" in caplog.text and "truncated" in caplog.text
    assert entry.stat().st_size == size  # written again, whole
    for a, b in zip(good(*inputs), rebuilt(*inputs)):
        assert mx.array_equal(a, b)


def test_a_foreign_file_under_the_cache_name_is_rebuilt(tmp_path, caplog):
    cache = QuantCache(tmp_path / "quantized")
    build("transformer", SOURCE, dtype=mx.float32, quantization="int8", quant_cache=cache)
    (entry,) = (tmp_path / "quantized").glob("transformer-int8-*.safetensors")
    shutil.copy(SOURCE, entry)  # a valid safetensors file, but not this entry
    with caplog.at_level(logging.WARNING, logger="ltxmlx.loader.quant_cache"):
        model = build("transformer", SOURCE, dtype=mx.float32, quantization="int8", quant_cache=cache)
    assert "stale" in caplog.text and quantized_layers(model)
    assert "ltxmlx_quant_key" in builder.open_checkpoint(entry).metadata


def test_unknown_mode_is_refused_with_the_valid_ones():
    with pytest.raises(LtxmlxError, match="unknown quantization 'int3'; valid: none, fp8, int8, int4"):
        build("transformer", SOURCE, dtype=mx.float32, quantization="int3")


def test_a_component_without_a_table_is_not_quantized():
    with pytest.raises(CheckpointError, match="cannot be quantized.*quantizable components: embeddings_processor, gemma3, gemma4, trans"):
        build("spatial_upsampler", PARITY / "common/tiny_spatial_upscaler_x2.safetensors", quantization="int8")


def test_config_validation_refuses_unknown_and_unsupported_modes(monkeypatch):
    validate(to_run_config(compose_config(["+job=smoke", "model.quantization=int4"])))
    cfg = to_run_config(compose_config(["+job=smoke", "model.quantization=q4"]))
    with pytest.raises(ConfigError, match="model.quantization.*one of none, fp8, int8, int4, mxfp8, mxfp4, nvfp4"):
        validate(cfg)
    cfg = to_run_config(compose_config(["+job=smoke", "model.quantization=nvfp4"]))
    monkeypatch.setattr("ltxmlx.config.validate.quantization_backend_error", lambda m: "no nvfp4 kernels here")
    with pytest.raises(ConfigError, match="a mode this MLX backend runs: no nvfp4 kernels here"):
        validate(cfg)


@pytest.mark.parametrize("mode", ["int8", "int4", "mxfp8", "mxfp4", "nvfp4"])
def test_this_backend_runs_every_mlx_mode(mode):
    assert builder.quantization_backend_error(mode) is None


def test_lora_fused_builds_are_quantized_after_fusion_and_cached_separately(tmp_path, inputs, reference):
    from ltxmlx.pipelines.config import LoraSpec
    from ltxmlx.pipelines.models import build_transformer

    lora = (LoraSpec(str(PARITY / "19b/tiny_distilled_lora.safetensors"), 0.8),)
    fused = build_transformer(SOURCE, lora, mx.float32)(*inputs)
    cache = str(tmp_path / "quantized")
    build_transformer(SOURCE, (), mx.float32, "int8", cache)
    quantized = build_transformer(SOURCE, lora, mx.float32, "int8", cache)(*inputs)
    assert len(list((tmp_path / "quantized").glob("transformer-int8-*.safetensors"))) == 2
    assert rel_rms(quantized[0], fused[0]) < TOLERANCE["int8"] < rel_rms(fused[0], reference[0])
    again = build_transformer(SOURCE, lora, mx.float32, "int8", cache)(*inputs)  # from its cache entry
    assert mx.array_equal(again[0], quantized[0])


def write_fp8_copy(src, dst) -> int:
    """`src` with its transformer-block matrices stored as official FP8 (E4M3 bytes + F32 weight_scale)."""
    import json

    import numpy as np
    from safetensors.numpy import load_file

    ckpt = builder.open_checkpoint(src)
    tensors, header, blobs, offset, n_fp8 = load_file(str(src)), {}, [], 0, 0

    def add(name, dtype, shape, data: bytes):
        nonlocal offset
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)

    for name, value in tensors.items():
        block = name.startswith("model.diffusion_model.transformer_blocks.")
        if block and name.endswith(".weight") and value.ndim == 2:
            scale = np.float32(np.abs(value).max() / 448.0)
            raw = mx.to_fp8(mx.array(value / scale))
            add(name, "F8_E4M3", value.shape, np.array(raw).tobytes())
            add(name + "_scale", "F32", (), scale.tobytes())
            n_fp8 += 1
        else:
            add(name, "F32", value.shape, value.astype(np.float32).tobytes())
    header["__metadata__"] = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in ckpt.metadata.items()}
    raw_header = json.dumps(header).encode()
    raw_header += b" " * (-len(raw_header) % 8)
    dst.write_bytes(len(raw_header).to_bytes(8, "little") + raw_header + b"".join(blobs))
    return n_fp8


def test_fp8_files_are_quantized_from_their_dequantized_weights(tmp_path, inputs):
    fp8 = tmp_path / "tiny_fp8.safetensors"
    assert write_fp8_copy(SOURCE, fp8) > 20
    dequantized = build("transformer", fp8, dtype=mx.float32)(*inputs)
    model = build("transformer", fp8, dtype=mx.float32, quantization="int8")
    assert quantized_layers(model)
    video, audio = model(*inputs)
    assert rel_rms(video, dequantized[0]) < TOLERANCE["int8"]
    assert rel_rms(audio, dequantized[1]) < TOLERANCE["int8"]
