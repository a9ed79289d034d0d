"""Model files for end-to-end benchmarks: the official configs with random weights, built through the real loader.

A full-size set is written as safetensors files without weight data: each carries the official metadata
(configs, model version) from tests/fixtures/manifest_*.json and, where the loader's header checks look
for tensors (the LTX-2.5 text path), the manifest's tensor entries over a sparse data section (holes
on disk, never read). The Gemma tokenizers are the tiny test tokenizers (their ids fit any vocabulary).
`random_weights()` then replaces the loader's source-weight step with seeded N(0, 0.02) tensors of the
module's shapes, so every model is built, quantized and evaluated exactly as from a real file.
The small sets are the tiny test models (real files, same random-weight step).

`model_files(model, root, small)` -> ModelFiles for "ltx23" (LTX-2.3 22B single file + Gemma 3 12B
folder + x2 upsampler) or "ltx25" (LTX-2.5 split files + packed Gemma 4 12B).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import shutil
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import mlx.core as mx
import numpy as np

from ltxmlx.loader import builder
from ltxmlx.loader.builder import module_shapes
from ltxmlx.pipelines.config import ModelFiles

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SEED = 0
_ST_DTYPES = {np.dtype(np.uint8): "U8"}
_ST_ITEMSIZE = {"BF16": 2, "F16": 2, "F32": 4, "U8": 1, "I8": 1, "F8_E4M3": 1}


# How random weights are drawn. "normal": every tensor N(0, 0.02) (timing and memory: kernels do not
# depend on the values). "scaled": the scheme of the official tiny parity fixtures, at any width
# (`tests/fixtures/parity/*/tiny_*.safetensors`: weights of Linear and conv layers N(0, 1/fan_in), biases
# N(0, 0.05), 1-D norm weights 1 + N(0, 0.1), tables and registers N(0, 0.1)): signals keep their scale
# through every layer, so errors are not inflated by weights far too large or small for their width.
SCHEMES = ("normal", "scaled")


def _draw(name: str, shape: tuple[int, ...], dtype: mx.Dtype, scheme: str, key: mx.array) -> mx.array:
    if scheme == "normal":
        return mx.random.normal(shape, dtype=dtype, scale=0.02, key=key)
    leaf = name.rpartition(".")[2]
    if leaf == "weight" and len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return mx.random.normal(shape, dtype=dtype, scale=fan_in**-0.5, key=key)
    if leaf == "weight":
        return mx.random.normal(shape, dtype=dtype, loc=1.0, scale=0.1, key=key)
    return mx.random.normal(shape, dtype=dtype, scale=0.05 if leaf == "bias" else 0.1, key=key)


def random_source_weights(spec, ckpt, dtype, transform, scheme: str = "normal"):
    """Stands in for the loader's source-weight step: seeded tensors of the module's shapes (see SCHEMES),
    drawn directly in the build dtype (float32 only for the spec's keep_float32 names), so no float32
    copy of a large tensor ever exists; per-name seeds, so every build of a name sees the same values."""
    out = {}
    for name, shape in module_shapes(spec.name, ckpt.config).items():
        keep = any(re.search(p, name) for p in spec.keep_float32)
        key = mx.random.key(SEED * 1_000_003 + zlib.crc32(name.encode()))
        out[name] = _draw(name, tuple(shape), mx.float32 if keep else dtype, scheme, key)
    return transform(out) if transform is not None else out


@contextlib.contextmanager
def random_weights(scheme: str = "normal") -> Iterator[None]:
    """Within this context every `builder.build` draws random weights (`scheme`, see SCHEMES) instead of
    reading tensors."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown weight scheme {scheme!r}; valid: {', '.join(SCHEMES)}")
    original = builder._source_weights
    builder._source_weights = functools.partial(random_source_weights, scheme=scheme)
    try:
        yield
    finally:
        builder._source_weights = original


def _meta_strings(metadata: dict) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}


def header_only(path: Path, metadata: dict) -> Path:
    """A safetensors file with no tensors: the official metadata only (configs, model version)."""
    header = json.dumps({"__metadata__": _meta_strings(metadata)}).encode()
    header += b" " * (-len(header) % 8)
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    return path


def sparse_file(path: Path, metadata: dict, tensors: list[dict], payload: dict[str, np.ndarray] | None = None) -> Path:
    """A safetensors file whose header lists `tensors` (manifest entries: name, shape, expected_ckpt_dtype)
    over a data section left as a hole (zeros, no disk blocks), plus `payload` tensors with real bytes
    (entries whose shape is symbolic, like the packed tokenizer's byte count, are left to `payload`)."""
    payload = payload or {}
    header: dict = {"__metadata__": _meta_strings(metadata)}
    offset = 0
    for t in tensors:
        if t["name"] in payload or not all(isinstance(d, int) for d in t["shape"]):
            continue  # an asset placeholder of the manifest (`payload` holds the real bytes)
        dtype = t.get("expected_ckpt_dtype", "BF16")
        size = int(np.prod(t["shape"], dtype=np.int64)) * _ST_ITEMSIZE[dtype]
        header[t["name"]] = {"dtype": dtype, "shape": list(t["shape"]), "data_offsets": [offset, offset + size]}
        offset += size
    blobs = []
    for name, array in payload.items():
        data = np.ascontiguousarray(array)
        header[name] = {"dtype": _ST_DTYPES[data.dtype], "shape": list(data.shape),
                        "data_offsets": [offset, offset + data.nbytes]}
        blobs.append((offset, data.tobytes()))
        offset += data.nbytes
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    start = 8 + len(head)
    with open(path, "wb") as f:
        f.write(len(head).to_bytes(8, "little") + head)
        for at, data in blobs:
            f.seek(start + at)
            f.write(data)
        f.truncate(start + offset)
    return path


def _manifest(name: str) -> dict:
    return json.loads((FIXTURES / f"manifest_{name}.json").read_text())


def ltx23_full(root: Path) -> ModelFiles:
    """LTX-2.3 22B single file, Gemma 3 12B folder (tiny tokenizer, official config), x2 upsampler."""
    from ltxmlx.text_encoders.gemma.tiny import tiny_gemma_folder

    gemma = root / "gemma"
    shutil.copytree(tiny_gemma_folder(root / "tok"), gemma)
    for f in gemma.glob("*.safetensors"):
        f.unlink()
    (gemma / "config.json").write_text(json.dumps(_manifest("gemma3_12b")["config"]))
    header_only(gemma / "model.safetensors", {})
    return ModelFiles(checkpoint=str(header_only(root / "ltx.safetensors", _manifest("ltx23_22b")["metadata"])),
                      text_encoder=str(gemma),
                      spatial_upsampler=str(header_only(root / "ups.safetensors",
                                                        _manifest("spatial_upscaler_x2")["metadata"])))


def ltx23_small(root: Path) -> ModelFiles:
    from ltxmlx.pipelines.tiny import ensure_tiny_checkpoints

    p = ensure_tiny_checkpoints(root)
    return ModelFiles(checkpoint=str(p["checkpoint"]), text_encoder=str(p["text_encoder"]),
                      spatial_upsampler=str(p["spatial_upsampler"]))


def _tiny_gemma4_assets(root: Path) -> dict[str, np.ndarray]:
    """The tokenizer and sidecar tensors of the tiny packed Gemma 4 file."""
    from ltxmlx.text_encoders.gemma4.assets import ASSET_PREFIX, TOKENIZER_JSON_KEY, PackedAssets
    from ltxmlx.text_encoders.gemma4.tiny import write_tiny_gemma4

    assets = PackedAssets.read(write_tiny_gemma4(root / "tiny-gemma4.safetensors", video_dim=8, audio_dim=8))
    out = {TOKENIZER_JSON_KEY: np.frombuffer(assets.tokenizer_json, dtype=np.uint8)}
    out.update({ASSET_PREFIX + k: np.frombuffer(v, dtype=np.uint8) for k, v in assets.sidecars.items()})
    return out


def ltx25_full(root: Path) -> ModelFiles:
    """LTX-2.5 split files (transformer with connectors, conv video VAE, audio VAE + vocoder, x2
    upsampler) and the packed Gemma 4 12B with its projection; tensor entries from the manifests."""
    def write(name: str, manifest: str, payload: dict | None = None, metadata: dict | None = None) -> str:
        m = _manifest(manifest)
        return str(sparse_file(root / f"{name}.safetensors", metadata or m["metadata"], m["tensors"], payload))

    te = _manifest("ltx25_gemma4_12b_with_proj")["metadata"]
    return ModelFiles(
        checkpoint=write("transformer", "ltx25_transformer"),
        text_encoder=write("gemma4", "ltx25_gemma4_12b_with_proj", _tiny_gemma4_assets(root), te),
        spatial_upsampler=write("ups", "ltx25_spatial_upscaler_x2"),
        video_vae=write("video_vae", "ltx25_video_vae_conv"),
        audio_vae=write("audio_vae", "ltx25_audio_vae"),
    )


def ltx25_small(root: Path) -> ModelFiles:
    from ltxmlx.pipelines.tiny25 import ensure_tiny25_checkpoints

    p = ensure_tiny25_checkpoints(root)
    return ModelFiles(checkpoint=str(p["checkpoint"]), text_encoder=str(p["text_encoder"]),
                      spatial_upsampler=str(p["spatial_upsampler"]), video_vae=str(p["video_vae"]),
                      audio_vae=str(p["audio_vae"]))


# model name -> (full-size files, tiny files)
MODELS: dict[str, tuple[Callable[[Path], ModelFiles], Callable[[Path], ModelFiles]]] = {
    "ltx23": (ltx23_full, ltx23_small),
    "ltx25": (ltx25_full, ltx25_small),
}


def model_files(model: str, root: Path, small: bool = False) -> ModelFiles:
    """The files of `model` written under `root` (a fresh folder per model)."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; valid: {', '.join(MODELS)}")
    root.mkdir(parents=True, exist_ok=True)
    return MODELS[model][1 if small else 0](root)
