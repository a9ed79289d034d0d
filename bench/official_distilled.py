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
times (files: `official_files.py`; registry and block timers: `official_hooks.py`). These three files are a
benchmark harness for the official code only: they use torch and the official packages, and nothing in the
project imports them.

GPU: ``python bench/official_distilled.py --official-src DIR`` (DIR holds ``ltx_core/`` and
``ltx_pipelines/``). CPU smoke run of the plumbing with the tiny test configs: add ``--small``.
"""

from __future__ import annotations

import argparse
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
import time
import traceback
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.official_files import (  # noqa: E402
    MODELS, SEED, TEXT_ONLY_PROCESSOR, Files, use_small_latent_channels)
from bench.official_hooks import Clock, Float32Builds, TimedBlock, make_registry_class, sync, timed_iter  # noqa: E402
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
        # AUTO_TILING (the official CLI's choice) sizes decode tiles from the free GPU memory; on the CPU
        # (--small) there is none to ask, so the small videos are decoded untiled.
        tiling_config = ns.AUTO_TILING if self.device.type == "cuda" else None
        with torch.inference_mode():
            video, audio, num_frames, tiling = self.pipeline(
                prompt=PROMPT, seed=SEED, height=height, width=width, frame_rate=fps, images=[],
                num_frames=frames, tiling_config=tiling_config)
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
        weights = self.registry.generated_bytes / GB
        return {"total_s": total, "stages_s": stages, "peak_gb": peak, "resident_weights_gb": weights,
                "peak_over_weights_gb": None if peak is None else peak - weights,
                "random_weights_s": self.clock.generated,
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
        "peak_gb": max(peaks) if peaks else None, "resident_weights_gb": runs[-1]["resident_weights_gb"],
        "first_call": first, "runs": runs,
    }


def print_table(records: list[dict]) -> None:
    if not records:
        return
    cols = ["model", "compile", "size", "videos/h", "s/video", *STAGE_COLUMNS, "first call s", "peak GB", "weights GB"]
    rows = []
    for r in records:
        st = dict(r["stages_s"])
        st["image_cond"] = st.get("image_cond_1", 0.0) + st.get("image_cond_2", 0.0)  # video encoder builds
        rows.append([r["model"], r["compile"], f"{r['width']}x{r['height']}x{r['frames']}",
                     f"{r['videos_per_hour']:.1f}", f"{r['s_per_video']:.2f}",
                     *(f"{st.get(c, 0.0):.2f}" for c in STAGE_COLUMNS),
                     f"{r['first_call']['total_s']:.2f}", "-" if r["peak_gb"] is None else f"{r['peak_gb']:.1f}",
                     f"{r['resident_weights_gb']:.1f}"])
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


def run_pipeline(bench: Bench, model: str, compile_mode: str, sizes, args, tmp: Path, save) -> None:
    """Warm-up plus timed calls at each size; the results file is rewritten after every size."""
    for size in sizes:
        w, h, f = size
        first = bench.render(w, h, f, args.fps, tmp)
        print(f"  {w}x{h}x{f} warm-up {first['total_s']:.2f} s (random weights generated: "
              f"{first['random_weights_s']:.2f} s, excluded)", flush=True)
        runs = []
        for i in range(args.repeats):
            runs.append(bench.render(w, h, f, args.fps, tmp))
            print(f"  {w}x{h}x{f} call {i + 1}: {runs[-1]['total_s']:.2f} s", flush=True)
        save(record=summarize(model, compile_mode, size, first, runs))


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    models = choices(args.model, MODELS, "--model")
    compiles = choices(args.compile, ("none", "compile"), "--compile")
    sizes = parse_sizes(args.sizes or (SMALL_SIZES if args.small else DEFAULT_SIZES))
    if args.repeats < 1:
        raise SystemExit("--repeats must be at least 1")
    ns = import_official(args.official_src)
    torch = ns.torch
    device = torch.device("cpu") if args.small or not torch.cuda.is_available() else torch.device("cuda")
    dev = device_name(torch, device)
    out = args.out
    if out is None:
        slug = re.sub(r"[^A-Za-z0-9]+", "_", dev).strip("_").lower()
        out = ROOT / "bench" / "results" / f"official_distilled_{slug}{'_small' if args.small else ''}.json"
    import transformers

    payload = {
        "benchmark": "official_distilled", "device": dev, "torch": torch.__version__,
        "transformers": transformers.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "small": args.small, "fps": args.fps, "repeats": args.repeats,
        "alloc_trim_strategy": args.alloc_trim, "ltx25_video_vae": args.vae25, "prompt": PROMPT, "seed": SEED,
        "official_src": str(args.official_src),
        "stubbed_modules": ns.stubbed,
        "gemma_processor": TEXT_ONLY_PROCESSOR["processor_class"],
        "natten_installed": importlib.util.find_spec("natten") is not None,  # the DiffVAE decoder's fast kernel
        "muxing": "official encode_video to a temporary mp4" if ns.muxing else
                  "skipped (PyAV not installed): frames converted to uint8 on the host and the waveform copied",
        "resident": "all weights (random, bf16, generated once on the device) and model shells stay in the "
                    "benchmark's registry for the life of a pipeline; the official blocks rebuild each model per "
                    "call by assigning those resident tensors and dispose it afterwards; peak_gb includes them all",
        "timing": "s_per_video = median of the timed calls (whole call: prompt encoding to host frames/mp4); "
                  "stages_s = medians per stage; first_call = the warm-up call at that size, after the sizes "
                  "before it (includes shell construction, and compilation with --compile; excludes the one-off "
                  "random weight generation, reported as random_weights_s); peak_gb = "
                  "torch.cuda.max_memory_allocated per call, max (resident weights included: resident_weights_gb; "
                  "peak_over_weights_gb per call)",
        "pipelines": [], "records": [], "errors": [],
    }

    def save(record=None, pipeline=None, error=None):
        for key, value in (("records", record), ("pipelines", pipeline), ("errors", error)):
            if value is not None:
                payload[key].append(value)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(payload, indent=2, default=str))

    with tempfile.TemporaryDirectory(prefix="official-distilled-") as tmp:
        tmp = Path(tmp)
        for model in models:
            files = (MODELS[model](tmp / model, args.small, args.vae25) if model == "ltx25"
                     else MODELS[model](tmp / model, args.small))
            if args.small:
                print(f"{model} --small latent channels: {use_small_latent_channels(files)}", flush=True)
            for compile_mode in compiles:
                bench = None
                try:  # one failing model/compile setting (memory, versions) must not lose the others' results
                    bench = Bench(ns, files, device, compile_mode, args.alloc_trim)
                    print(f"{model} {compile_mode}: pipeline constructed in {bench.setup_s:.2f} s", flush=True)
                    run_pipeline(bench, model, compile_mode, sizes, args, tmp, save)
                except Exception as exc:  # noqa: BLE001  (recorded in the results and printed)
                    print(f"{model} {compile_mode} FAILED: {exc!r}", flush=True)
                    traceback.print_exc()
                    save(error={"model": model, "compile": compile_mode, "error": repr(exc),
                                "traceback": traceback.format_exc()})
                finally:
                    if bench is not None:
                        save(pipeline={"model": model, "compile": compile_mode, "construct_s": bench.setup_s,
                                       "resident": bench.registry.resident()})
                        bench.close()
    save()
    print_table(payload["records"])
    for err in payload["errors"]:
        print(f"FAILED {err['model']} {err['compile']}: {err['error']}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
