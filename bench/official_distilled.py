"""End-to-end speed of the official PyTorch `DistilledPipeline` (ltx-pipelines) with random full-size weights.

The other side of our end-to-end benchmark: whole distilled two-stage renders (prompt encoding, stage 1,
x2 upsampling, stage 2, video and audio decoding) through the official pipeline object and its blocks,
one prompt per call (the official pipeline renders one video per call), models resident on the device,
eager and with the official `torch.compile` path (`CompilationConfig()` as `compilation_config`).

No weight file is read. The checkpoint paths point at header-only safetensors files that carry only the
official metadata (configs, model version; from the key manifests in tests/fixtures), and the pipeline is
given a `Registry` (the official loaders' cache seam) that answers every state-dict lookup with seeded
N(0, 0.02) tensors, generated on the device per checkpoint tensor in the dtype the blocks run in (bf16),
passed through the official key/value operations exactly like tensors read from the file. The registry
keeps those state dicts and the model shells, so every block rebuilds its model per call (as the official
blocks do) by assigning the same resident device tensors: nothing is read or copied per call. The first
call's random generation (which stands in for reading the files) is timed apart and left out of the stage
times. This file is a benchmark harness for the official code only: it imports torch and the official
packages, and nothing in the project imports it.

GPU: ``python bench/official_distilled.py --official-src DIR`` (DIR holds ``ltx_core/`` and
``ltx_pipelines/``). CPU smoke run of the plumbing with the tiny test configs: add ``--small``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.machinery
import importlib.util
import json
import logging
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
import types
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SEED = 0
PROMPT = "A red fox trots across a snowy meadow at dawn, its breath steaming, while crows call from bare trees."
GB = 1e9

# Sizes are WIDTHxHEIGHTxFRAMES of the final (stage 2) video; stage 1 renders at half width and height.
DEFAULT_SIZES = "768x512x121,384x256x33"
SMALL_SIZES = "128x128x17,64x64x9"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--official-src", required=True, type=Path, help="folder holding ltx_core/ and ltx_pipelines/")
    p.add_argument("--model", default="ltx23", help="comma-separated: ltx23, ltx25")
    p.add_argument("--sizes", default=None, help=f"WxHxF list (default {DEFAULT_SIZES}; --small: {SMALL_SIZES})")
    p.add_argument("--compile", default="none,compile", help="comma-separated: none, compile")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per size after one warm-up call")
    p.add_argument("--fps", type=float, default=24.0)
    p.add_argument("--alloc-trim", default="trim", choices=("trim", "defer"),
                   help="the blocks' AllocatorTrimStrategy (official default: trim)")
    p.add_argument("--vae25", default="diffusion", choices=("diffusion", "conv"),
                   help="LTX-2.5 video VAE file: the diffusion decoder (the pack's default) or the conv one")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--small", action="store_true", help="tiny test configs on the CPU (plumbing check)")
    return p.parse_args()


# ---------------------------------------------------------------------------------------------------------------
# Modules the official packages import at module level that this path never calls.
# ---------------------------------------------------------------------------------------------------------------

def stub_missing_modules(names: dict[str, dict[str, dict]]) -> list[str]:
    """Register an empty module for each name that is not installed (with the given submodules and their
    attributes: what the importing module reads at import time), and return those names.

    The official packages import these at module level, but the distilled text-to-video render never calls
    them: `ltx_pipelines.utils.media_io` imports OpenImageIO (HDR EXR reading), PIL (conditioning images)
    and PyAV (mp4 decoding and encoding); `ltx_core.model.audio_vae.ops` imports torchaudio (the mel
    spectrogram of the audio *encoder*). Without PyAV the final mp4 mux is skipped (the results say so)."""
    stubbed = []
    for name, submodules in names.items():
        if name in sys.modules or importlib.util.find_spec(name) is not None:
            continue
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        for sub, attributes in submodules.items():
            child = types.ModuleType(f"{name}.{sub}")
            child.__spec__ = importlib.machinery.ModuleSpec(f"{name}.{sub}", None)
            child.__dict__.update(attributes)
            setattr(module, sub, child)
            sys.modules[f"{name}.{sub}"] = child
        sys.modules[name] = module
        stubbed.append(name)
    return stubbed


# ---------------------------------------------------------------------------------------------------------------
# Header-only checkpoint files and their tensor lists
# ---------------------------------------------------------------------------------------------------------------

def header_only(path: Path, metadata: dict) -> str:
    """A safetensors file without tensors: the metadata only (string values, JSON-encoded otherwise)."""
    meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    header = json.dumps({"__metadata__": meta}).encode()
    header += b" " * (-len(header) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    return str(path.resolve())


def read_header(path: Path) -> tuple[dict, list[tuple[str, list[int], str]]]:
    """(metadata with JSON values decoded, [(name, shape, dtype)]) of a real safetensors file."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    raw = header.pop("__metadata__", {}) or {}
    meta = {}
    for k, v in raw.items():
        try:
            meta[k] = json.loads(v)
        except json.JSONDecodeError:
            meta[k] = v
    return meta, [(k, v["shape"], v["dtype"]) for k, v in header.items()]


def manifest_tensors(manifest: dict) -> list[tuple[str, list[int], str]]:
    """The manifest's weight tensors (entries with symbolic shapes describe file assets, not weights)."""
    return [(t["name"], t["shape"], t["expected_ckpt_dtype"]) for t in manifest["tensors"]
            if all(isinstance(d, int) for d in t["shape"])]


def write_tokenizer_folder(folder: Path, processor: dict) -> None:
    """Tokenizer and processor files for a Gemma 3 folder: one token per printable ASCII character plus
    Gemma's special tokens (102 ids: they fit any Gemma vocabulary, the tiny test one included). The text
    encoder pads every prompt to its fixed length (1024 tokens), so the tokenizer does not change the work."""
    from tokenizers import Tokenizer, models, processors

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_image>", "<end_of_image>", "<image_soft_token>"]
    vocab = {tok: i for i, tok in enumerate(specials)}
    for code in range(32, 127):
        vocab[chr(code)] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    tok.add_special_tokens(specials)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(tok.to_str())
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
        "extra_special_tokens": {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>",
                                 "image_token": "<image_soft_token>"},
    }))
    (folder / "processor_config.json").write_text(json.dumps(processor))
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "Gemma3ImageProcessor", "size": {"height": 896, "width": 896},
        "do_resize": True, "do_rescale": True, "do_normalize": True, "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5], "rescale_factor": 1 / 255, "resample": 2,
    }))


def gemma_processor_config() -> dict:
    """Gemma 3's processor (tokenizer + image processor) when transformers can build its image processor
    (PIL installed); else a tokenizer-only processor class. The text encoder's loader always builds a
    processor, but only prompt enhancement with an image uses it, which this render does not do."""
    from transformers.utils import is_vision_available

    if is_vision_available():
        return {"processor_class": "Gemma3Processor", "image_seq_length": 256}
    return {"processor_class": "BarkProcessor"}


class Files:
    """Checkpoint files of one model (header-only, or for the Gemma 4 file header plus tokenizer assets) and
    the tensor list each stands for (keyed by resolved path)."""

    def __init__(self, root: Path):
        self.root = root
        self.tensors: dict[str, list[tuple[str, list[int], str]]] = {}
        self.paths: dict[str, str] = {}

    def add(self, role: str, rel: str, metadata: dict, tensors: list) -> str:
        path = header_only(self.root / rel, metadata)
        self.tensors[path] = tensors
        self.paths[role] = path
        return path

    def add_gemma3(self, config: dict, tensors: list) -> None:
        """A Gemma 3 folder (config.json, tokenizer files, header-only model.safetensors)."""
        folder = self.root / "gemma"
        write_tokenizer_folder(folder, gemma_processor_config())
        (folder / "config.json").write_text(json.dumps(config))
        self.add("gemma_weights", "gemma/model.safetensors", {"format": "pt"}, tensors)
        self.paths["text_encoder"] = str(folder.resolve())

    def add_gemma4(self, gemma_config: dict, tensors: list) -> None:
        """A single-file Gemma 4 text encoder as ltx-core's packer writes it, minus the weights: the HF config
        in the metadata, the tokenizer as a uint8 tensor, the sidecars as metadata strings, and one tiny tensor
        under the first layer's name, from which the loader tells the key layout (Comfy-flat) of the file."""
        import torch
        from safetensors.torch import save_file

        folder = self.root / "gemma4_assets"
        write_tokenizer_folder(folder, {"processor_class": "BarkProcessor"})  # text only: see gemma_processor_config
        path = self.root / "text_encoder.safetensors"
        save_file({"tokenizer_json": torch.frombuffer(bytearray((folder / "tokenizer.json").read_bytes()),
                                                      dtype=torch.uint8),
                   "model.layers.0.post_feedforward_layernorm.weight": torch.zeros(1)},
                  str(path), metadata={"format": "pt", "gemma_config": json.dumps(gemma_config),
                                       "tokenizer_config.json": (folder / "tokenizer_config.json").read_text(),
                                       "processor_config.json": (folder / "processor_config.json").read_text()})
        path = str(path.resolve())
        self.tensors[path] = [t for t in tensors if t[0] != "tokenizer_json" and not t[0].startswith("hf_asset__")]
        self.paths["text_encoder"] = path

    def model_paths(self, ModelPaths):
        if "transformer" in self.paths:
            return ModelPaths.from_split(
                transformer_path=self.paths["transformer"], text_encoder_path=self.paths["text_encoder"],
                video_vae_path=self.paths["video_vae"], audio_vae_path=self.paths["audio_vae"])
        return ModelPaths.from_monolith(self.paths["checkpoint"], self.paths["text_encoder"])

    def config(self, role: str) -> dict:
        """The `config` metadata of the file holding `role` (video_vae / audio_vae: the checkpoint if monolith)."""
        return read_header(Path(self.paths.get(role, self.paths.get("checkpoint"))))[0]["config"]


def ltx23_files(root: Path, small: bool) -> Files:
    files = Files(root)
    if small:
        meta, tensors = read_header(FIXTURES / "parity" / "22b" / "tiny_22b.safetensors")
        files.add("checkpoint", "ltx.safetensors", meta, tensors)
        ups_meta, ups_tensors = read_header(FIXTURES / "parity" / "common" / "tiny_spatial_upscaler_x2.safetensors")
        files.add("upsampler", "upsampler.safetensors", ups_meta, ups_tensors)
        gemma_dir = FIXTURES / "parity" / "common" / "tiny_gemma3"
        files.add_gemma3(json.loads((gemma_dir / "config.json").read_text()),
                         read_header(gemma_dir / "model.safetensors")[1])
        return files
    ltx = json.loads((FIXTURES / "manifest_ltx23_22b.json").read_text())
    ups = json.loads((FIXTURES / "manifest_spatial_upscaler_x2.json").read_text())
    gemma = json.loads((FIXTURES / "manifest_gemma3_12b.json").read_text())
    files.add("checkpoint", "ltx.safetensors", ltx["metadata"], manifest_tensors(ltx))
    files.add("upsampler", "upsampler.safetensors", ups["metadata"], manifest_tensors(ups))
    files.add_gemma3(gemma["config"], manifest_tensors(gemma))
    return files


# LTX-2.5 split pack: role -> (tiny test file under parity/25, full-size manifest). The video VAE is the
# diffusion decoder (the pack's default) unless --vae25 conv.
LTX25_FILES = {
    "transformer": ("tiny_ltx-2.5-distilled-transformer", "manifest_ltx25_transformer"),
    "audio_vae": ("tiny_ltx-2.5-audio-vae", "manifest_ltx25_audio_vae"),
    "upsampler": ("tiny_ltx-2.5-latent-spatial-upscaler-x2", "manifest_ltx25_spatial_upscaler_x2"),
    "video_vae/diffusion": ("tiny_ltx-2.5-video-vae", "manifest_ltx25_video_vae_diffusion"),
    "video_vae/conv": ("tiny_ltx-2.5-video-vae-conv", "manifest_ltx25_video_vae_conv"),
    "text_encoder": ("tiny_gemma4-with-proj-ltx-2.5", "manifest_ltx25_gemma4_12b_with_proj"),
}


def ltx25_files(root: Path, small: bool, vae: str = "diffusion") -> Files:
    """The split pack without a duration head: the benchmark passes the frame count (the official pipeline
    then never runs the head)."""
    files = Files(root)
    for role in ("transformer", "audio_vae", "upsampler", f"video_vae/{vae}", "text_encoder"):
        tiny, manifest = LTX25_FILES[role]
        if small:
            meta, tensors = read_header(FIXTURES / "parity" / "25" / f"{tiny}.safetensors")
        else:
            full = json.loads((FIXTURES / f"{manifest}.json").read_text())
            meta, tensors = full["metadata"], manifest_tensors(full)
        name = role.split("/")[0]
        if name == "text_encoder":
            files.add_gemma4(meta["gemma_config"], tensors)
        else:
            files.add(name, f"{name}.safetensors", meta, tensors)
    return files


MODELS = {"ltx23": ltx23_files, "ltx25": ltx25_files}


def use_small_latent_channels(files: Files) -> dict:
    """--small only: the official pipelines build their noise latents with the real models' channel counts
    (video 128, audio 8 x 16 mel bins: the defaults of `VideoLatentShape.from_pixel_shape` and
    `AudioLatentShape.from_video_pixel_shape`); the tiny test VAEs have fewer. Point those defaults at the
    tiny checkpoint's config so the plumbing can run. Full-size runs change nothing."""
    from ltx_core.types import AudioLatentShape, VideoLatentShape

    video_channels = files.config("video_vae")["vae"]["latent_channels"]
    ddconfig = files.config("audio_vae")["audio_vae"]["model"]["params"]["ddconfig"]
    audio_channels = ddconfig["z_channels"]
    video_defaults = list(VideoLatentShape.from_pixel_shape.__defaults__)
    audio_defaults = list(AudioLatentShape.from_video_pixel_shape.__defaults__)
    video_defaults[0], audio_defaults[0] = video_channels, audio_channels
    VideoLatentShape.from_pixel_shape.__defaults__ = tuple(video_defaults)
    AudioLatentShape.from_video_pixel_shape.__defaults__ = tuple(audio_defaults)
    return {"video_latent_channels": video_channels, "audio_latent_channels": audio_channels}



# ---------------------------------------------------------------------------------------------------------------
# The registry: random resident state dicts instead of files
# ---------------------------------------------------------------------------------------------------------------

def make_registry_class(torch, Registry, StateDict):
    """The registry class, built once the official packages are importable."""

    float_dtypes = {"F64", "F32", "F16", "BF16"}
    int_dtypes = {"I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
                  "U8": torch.uint8, "BOOL": torch.bool}

    class RandomWeightsRegistry(Registry):
        """Answers every state-dict lookup with seeded random tensors for the checkpoint's keys (through the
        caller's key/value operations, as the official file loader does) and keeps them, and the model shells,
        for the life of the pipeline. Floating tensors are N(0, 0.02) in `dtype` (what the blocks cast to;
        0-d float32 scalars stay float32, as the builders keep them); integer tensors are zeros."""

        def __init__(self, files: Files, device, dtype):
            self._files, self._device, self._dtype = files, device, dtype
            self._state_dicts: dict[str, object] = {}
            self._models: dict[str, object] = {}
            self._lock = threading.Lock()
            self.generated_seconds = 0.0  # time spent generating random weights (stands in for file reads)
            self.generated_bytes = 0

        def _key(self, paths, sd_ops) -> str:
            return "\0".join([str(Path(p).resolve()) for p in paths] + [sd_ops.name if sd_ops else ""])

        def _random(self, name: str, shape: list[int], dtype: str):
            if dtype not in float_dtypes:
                return torch.zeros(shape, dtype=int_dtypes[dtype], device=self._device)
            out_dtype = torch.float32 if (dtype == "F32" and not shape) else self._dtype
            gen = torch.Generator(device=self._device).manual_seed(SEED * 1_000_003 + zlib.crc32(name.encode()))
            return torch.randn(shape, generator=gen, dtype=out_dtype, device=self._device).mul_(0.02)

        def _generate(self, paths, sd_ops):
            sync(torch, self._device)
            t0 = time.perf_counter()
            sd = {}
            for path in paths:
                manifest = self._files.tensors.get(str(Path(path).resolve()))
                if manifest is None:
                    raise KeyError(f"no tensor list for {path}: not one of this benchmark's checkpoint files")
                for name, shape, dtype in manifest:
                    key = name if sd_ops is None else sd_ops.apply_to_key(name)
                    if key is None:
                        continue
                    value = self._random(name, shape, dtype)
                    pairs = [(key, value)] if sd_ops is None else sd_ops.apply_to_key_value(key, value)
                    for k, v in pairs:
                        sd[k] = v
            size = sum(v.nbytes for v in sd.values())
            sync(torch, self._device)
            self.generated_seconds += time.perf_counter() - t0
            self.generated_bytes += size
            return StateDict(sd=sd, device=self._device, size=size, dtype={v.dtype for v in sd.values()})

        def get(self, paths, sd_ops):
            key = self._key(paths, sd_ops)
            with self._lock:
                if key not in self._state_dicts:
                    self._state_dicts[key] = self._generate(paths, sd_ops)
                return self._state_dicts[key]

        def add(self, paths, sd_ops, state_dict):
            with self._lock:
                self._state_dicts.setdefault(self._key(paths, sd_ops), state_dict)
            return state_dict

        def pop(self, paths, sd_ops):
            with self._lock:
                return self._state_dicts.pop(self._key(paths, sd_ops), None)

        def clear(self) -> None:
            with self._lock:
                self._state_dicts.clear()
                self._models.clear()

        def get_model(self, key):
            with self._lock:
                return self._models.get(key)

        def add_model(self, key, model):
            with self._lock:
                return self._models.setdefault(key, model)

        def pop_model(self, key):
            with self._lock:
                return self._models.pop(key, None)

        def resident(self) -> dict:
            return {"state_dicts": len(self._state_dicts), "model_shells": len(self._models),
                    "weight_bytes": self.generated_bytes}

    return RandomWeightsRegistry


# ---------------------------------------------------------------------------------------------------------------
# Per-stage timing
# ---------------------------------------------------------------------------------------------------------------

def sync(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Clock:
    """Seconds per stage of the current call. Sections nest (an outer section's time excludes its inner ones'),
    and the registry's random weight generation is left out of every section and summed apart."""

    def __init__(self, torch, device, registry):
        self.torch, self.device, self.registry = torch, device, registry
        self.stages: dict[str, float] = {}
        self.generated = 0.0
        self._inner = (0.0, 0.0)  # (seconds, generation seconds) of the sections nested in the open one

    def reset(self) -> None:
        self.stages, self.generated = {}, 0.0

    @contextlib.contextmanager
    def section(self, name: str):
        sync(self.torch, self.device)
        outer, self._inner = self._inner, (0.0, 0.0)
        g0, t0 = self.registry.generated_seconds, time.perf_counter()
        try:
            yield
        finally:
            sync(self.torch, self.device)
            total, generated = time.perf_counter() - t0, self.registry.generated_seconds - g0
            inner_s, inner_g = self._inner
            own_generated = generated - inner_g
            self.stages[name] = self.stages.get(name, 0.0) + total - inner_s - own_generated
            self.generated += own_generated
            self._inner = (outer[0] + total, outer[1] + generated)


class Float32Builds:
    """A model builder whose builds are all in `dtype` (CPU smoke runs only, see Bench)."""

    def __init__(self, builder, dtype):
        self._builder, self._dtype = builder, dtype

    def build(self, *args, **kwargs):
        kwargs["dtype"] = self._dtype
        return self._builder.build(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._builder, name)


class TimedBlock:
    """Wraps a pipeline block; its calls are timed under `names` (one name per call within a render)."""

    def __init__(self, block, clock: Clock, names: tuple[str, ...]):
        self._block, self._clock, self._names, self._calls = block, clock, names, 0

    def __call__(self, *args, **kwargs):
        name = self._names[min(self._calls, len(self._names) - 1)]
        self._calls += 1
        with self._clock.section(name):
            return self._block(*args, **kwargs)

    def reset(self) -> None:
        self._calls = 0

    def __getattr__(self, name):
        return getattr(self._block, name)


def timed_iter(clock: Clock, name: str, it):
    """Yields from `it`, timing the work inside each step: the decoder runs lazily as chunks are taken, and
    frees itself when the iterator is exhausted."""
    done = object()
    while True:
        with clock.section(name):
            chunk = next(it, done)
        if chunk is done:
            return
        yield chunk


# ---------------------------------------------------------------------------------------------------------------
# Renders
# ---------------------------------------------------------------------------------------------------------------

BLOCKS = (("prompt_encoder", ("prompt_encode",)), ("image_conditioner", ("image_cond_1", "image_cond_2")),
          ("stage", ("stage_1", "stage_2")), ("upsampler", ("upsample",)),
          ("video_decoder", ("video_decode",)), ("audio_decoder", ("audio_decode",)))
STAGE_COLUMNS = ("prompt_encode", "image_cond", "stage_1", "upsample", "stage_2", "video_decode", "audio_decode",
                 "host_encode", "other")


class Bench:
    """One official pipeline (one model, one compile setting) with resident random weights, rendering on demand."""

    def __init__(self, ns, files: Files, device, compile_mode: str, trim: str):
        self.ns, self.torch, self.device = ns, ns.torch, device
        torch = self.torch
        self.registry = ns.Registry(files, device, torch.bfloat16)
        self.clock = Clock(torch, device, self.registry)
        compilation = {"none": None, "compile": ns.CompilationConfig()}[compile_mode]
        t0 = time.perf_counter()
        self.pipeline = ns.DistilledPipeline(
            model_paths=files.model_paths(ns.ModelPaths),
            spatial_upsampler_path=files.paths["upsampler"], loras=[], device=device, registry=self.registry,
            compilation_config=compilation, alloc_trim_strategy=ns.AllocatorTrimStrategy(trim))
        self.setup_s = time.perf_counter() - t0
        if device.type == "cpu":
            # The vocoder runs its bf16 weights under float32 autocast, which upcasts convolutions on CUDA
            # but not on the CPU; there (--small) the vocoder is built in float32 instead (as the official
            # block does on Apple GPUs).
            decoder = self.pipeline.audio_decoder
            decoder._vocoder_builder = Float32Builds(decoder._vocoder_builder, torch.float32)
        self.blocks = []
        for attr, names in BLOCKS:
            block = TimedBlock(getattr(self.pipeline, attr), self.clock, names)
            setattr(self.pipeline, attr, block)
            self.blocks.append(block)

    def render(self, width: int, height: int, frames: int, fps: float, out_dir: Path) -> dict:
        torch, ns = self.torch, self.ns
        self.clock.reset()
        for block in self.blocks:
            block.reset()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        sync(torch, self.device)
        t0 = time.perf_counter()
        with torch.inference_mode():
            video, audio, num_frames, tiling = self.pipeline(
                prompt=PROMPT, seed=SEED, height=height, width=width, frame_rate=fps, images=[],
                num_frames=frames, tiling_config=ns.AUTO_TILING)
            video = timed_iter(self.clock, "video_decode", video)
            with self.clock.section("host_encode"):
                if ns.muxing:
                    ns.encode_video(video=video, fps=int(round(fps)), audio=audio,
                                    output_path=str(out_dir / "bench.mp4"),
                                    video_chunks_number=ns.get_video_chunks_number(num_frames, tiling))
                    host_frames = num_frames
                else:  # what an mp4 writer does before encoding: uint8 frames and the waveform on the host
                    host_frames = sum(chunk.mul(255).round_().to(torch.uint8).cpu().shape[0] for chunk in video)
                    audio.waveform.float().cpu()
        sync(torch, self.device)
        total = time.perf_counter() - t0 - self.clock.generated
        stages = dict(self.clock.stages)
        stages["other"] = total - sum(stages.values())
        peak = torch.cuda.max_memory_allocated(self.device) / GB if self.device.type == "cuda" else None
        return {"total_s": total, "stages_s": stages, "peak_gb": peak, "random_weights_s": self.clock.generated,
                "num_frames": num_frames, "frames_on_host": host_frames,
                "audio_samples": int(audio.waveform.shape[-1]), "sampling_rate": audio.sampling_rate}

    def close(self) -> None:
        torch = self.torch
        self.pipeline = self.blocks = None
        self.registry.clear()
        gc.collect()
        if hasattr(torch, "_dynamo"):
            torch._dynamo.reset()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def summarize(model: str, compile_mode: str, size: tuple[int, int, int], first: dict, runs: list[dict]) -> dict:
    med = statistics.median(r["total_s"] for r in runs)
    names = list(runs[0]["stages_s"])
    peaks = [r["peak_gb"] for r in runs + [first] if r["peak_gb"] is not None]
    return {
        "model": model, "compile": compile_mode, "width": size[0], "height": size[1], "frames": size[2],
        "s_per_video": med, "videos_per_hour": 3600.0 / med,
        "stages_s": {n: statistics.median(r["stages_s"].get(n, 0.0) for r in runs) for n in names},
        "peak_gb": max(peaks) if peaks else None, "first_call": first, "runs": runs,
    }


def print_table(records: list[dict]) -> None:
    cols = ["model", "compile", "size", "videos/h", "s/video", *STAGE_COLUMNS, "first call s", "peak GB"]
    rows = []
    for r in records:
        st = dict(r["stages_s"])
        st["image_cond"] = st.get("image_cond_1", 0.0) + st.get("image_cond_2", 0.0)  # video encoder builds
        rows.append([r["model"], r["compile"], f"{r['width']}x{r['height']}x{r['frames']}",
                     f"{r['videos_per_hour']:.1f}", f"{r['s_per_video']:.2f}",
                     *(f"{st.get(c, 0.0):.2f}" for c in STAGE_COLUMNS),
                     f"{r['first_call']['total_s']:.2f}", "-" if r["peak_gb"] is None else f"{r['peak_gb']:.1f}"])
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(cols)]
    print(" | ".join(c.ljust(w) for c, w in zip(cols, widths)))
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(v.ljust(w) for v, w in zip(row, widths)))


# ---------------------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------------------

# Module-level imports of the official packages that this render never uses (see stub_missing_modules).
UNUSED_MODULES = {"OpenImageIO": {}, "av": {}, "torchaudio": {},
                  "PIL": {"ExifTags": {"TAGS": {0x0112: "Orientation"}}, "Image": {},
                          "ImageCms": {"createProfile": lambda *args, **kwargs: None}}}


def import_official(src: Path) -> types.SimpleNamespace:
    """Import torch and the official packages from `src` (after stubbing the unused missing modules)."""
    if not (src / "ltx_core").is_dir() or not (src / "ltx_pipelines").is_dir():
        raise SystemExit(f"--official-src {src}: expected the folders ltx_core/ and ltx_pipelines/ in it")
    sys.path.insert(0, str(src.resolve()))
    import torch
    import transformers  # noqa: F401  (first: it decides from the installed packages whether PIL is usable)

    stubbed = stub_missing_modules(UNUSED_MODULES)
    from ltx_core.allocator_trim_strategy import AllocatorTrimStrategy
    from ltx_core.loader.primitives import StateDict
    from ltx_core.loader.registry import Registry
    from ltx_core.model.transformer.compiling import CompilationConfig
    from ltx_core.model.video_vae import AUTO_TILING, get_video_chunks_number
    from ltx_pipelines.distilled import DistilledPipeline
    from ltx_pipelines.utils.media_io import encode_video
    from ltx_pipelines.utils.model_paths import ModelPaths

    return types.SimpleNamespace(
        torch=torch, AllocatorTrimStrategy=AllocatorTrimStrategy, CompilationConfig=CompilationConfig,
        AUTO_TILING=AUTO_TILING, get_video_chunks_number=get_video_chunks_number,
        DistilledPipeline=DistilledPipeline, encode_video=encode_video, ModelPaths=ModelPaths,
        Registry=make_registry_class(torch, Registry, StateDict), stubbed=stubbed, muxing="av" not in stubbed)


def device_name(torch, device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine() or "cpu"


def parse_sizes(text: str) -> list[tuple[int, int, int]]:
    sizes = []
    for item in text.split(","):
        m = re.fullmatch(r"(\d+)x(\d+)x(\d+)", item.strip())
        if not m:
            raise SystemExit(f"bad size {item!r}: expected WIDTHxHEIGHTxFRAMES, e.g. 768x512x121")
        sizes.append(tuple(int(v) for v in m.groups()))
    return sizes


def choices(text: str, valid, what: str) -> list[str]:
    items = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in items if v not in valid]
    if bad or not items:
        raise SystemExit(f"bad {what} {bad or text!r}; valid: {', '.join(valid)}")
    return items


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    models = choices(args.model, MODELS, "--model")
    compiles = choices(args.compile, ("none", "compile"), "--compile")
    sizes = parse_sizes(args.sizes or (SMALL_SIZES if args.small else DEFAULT_SIZES))
    ns = import_official(args.official_src)
    torch = ns.torch
    device = torch.device("cpu") if args.small or not torch.cuda.is_available() else torch.device("cuda")
    records, setups = [], []
    with tempfile.TemporaryDirectory(prefix="official-distilled-") as tmp:
        tmp = Path(tmp)
        for model in models:
            files = (MODELS[model](tmp / model, args.small, args.vae25) if model == "ltx25"
                     else MODELS[model](tmp / model, args.small))
            if args.small:
                print(f"{model} --small latent channels: {use_small_latent_channels(files)}", flush=True)
            for compile_mode in compiles:
                bench = Bench(ns, files, device, compile_mode, args.alloc_trim)
                print(f"{model} {compile_mode}: pipeline constructed in {bench.setup_s:.2f} s", flush=True)
                for size in sizes:
                    w, h, f = size
                    first = bench.render(w, h, f, args.fps, tmp)
                    print(f"  {w}x{h}x{f} warm-up {first['total_s']:.2f} s (random weights generated: "
                          f"{first['random_weights_s']:.2f} s, excluded)", flush=True)
                    runs = []
                    for i in range(args.repeats):
                        runs.append(bench.render(w, h, f, args.fps, tmp))
                        print(f"  {w}x{h}x{f} call {i + 1}: {runs[-1]['total_s']:.2f} s", flush=True)
                    records.append(summarize(model, compile_mode, size, first, runs))
                setups.append({"model": model, "compile": compile_mode, "construct_s": bench.setup_s,
                               "resident": bench.registry.resident()})
                bench.close()
    dev = device_name(torch, device)
    payload = {
        "benchmark": "official_distilled", "device": dev, "torch": torch.__version__,
        "platform": platform.platform(), "small": args.small, "fps": args.fps, "repeats": args.repeats,
        "alloc_trim_strategy": args.alloc_trim, "ltx25_video_vae": args.vae25, "prompt": PROMPT, "seed": SEED,
        "official_src": str(args.official_src),
        "stubbed_modules": ns.stubbed, "gemma_processor": gemma_processor_config()["processor_class"],
        "muxing": "official encode_video to a temporary mp4" if ns.muxing else
                  "skipped (PyAV not installed): frames converted to uint8 on the host and the waveform copied",
        "resident": "all weights (random, bf16, generated once on the device) and model shells stay in the "
                    "benchmark's registry for the life of a pipeline; the official blocks rebuild each model per "
                    "call by assigning those resident tensors and dispose it afterwards",
        "timing": "s_per_video = median of the timed calls (whole call: prompt encoding to host frames/mp4); "
                  "stages_s = medians per stage; first_call = the warm-up call at that size (includes shell "
                  "construction, and compilation with --compile; excludes the one-off random weight generation, "
                  "reported as random_weights_s); peak_gb = torch.cuda.max_memory_allocated per call, max",
        "pipelines": setups, "records": records,
    }
    out = args.out
    if out is None:
        slug = re.sub(r"[^A-Za-z0-9]+", "_", dev).strip("_").lower()
        out = ROOT / "bench" / "results" / f"official_distilled_{slug}{'_small' if args.small else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, default=str))
    print_table(records)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
