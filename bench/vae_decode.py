"""Benchmark: full-size video VAE decode (19B and 22B decoders) with random bf16 weights.

121 frames (latent 16) at 512x768 and 1024x1536, untiled, with the official default tiling
(10-latent temporal chunks overlapping by 4, 24-latent spatial tiles overlapping by 2: "fixed-tiling") and with the
automatic, memory-budgeted tiling. Each case: warm-ups, then timed runs that consume every chunk
as the pipelines' decode stage does (mx.eval per tile and per chunk); median seconds and peak memory (reset per case), next to
the decoder's own peak estimate (to calibrate `ltxmlx.model.video_vae.memory`).

    python bench/vae_decode.py                 # on the GPU machine
    python bench/vae_decode.py --small         # CPU smoke run with scaled-down decoders, seconds
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402  (sets the MLX environment before MLX loads)

import mlx.core as mx  # noqa: E402
from mlx.utils import tree_flatten, tree_unflatten  # noqa: E402

from ltxmlx.model.video_vae import (
    TilingConfig,
    VideoDecoder,
    VideoDecoderConfig,
    choose_tiling,
    decode_steps,
    estimate_decode_bytes,
)

MANIFESTS = {"19b": "manifest_ltx2_19b.json", "22b": "manifest_ltx23_22b.json"}
OFFICIAL_TILING = TilingConfig(tile_frames=10, frame_overlap=4, tile_size=24, spatial_overlap=2)
GB = 1024**3


def vae_config(gen: str, small: bool) -> dict:
    meta = json.loads((ROOT / "tests" / "fixtures" / MANIFESTS[gen]).read_text())["metadata"]
    config = meta["config"] if isinstance(meta["config"], dict) else json.loads(meta["config"])
    vae = dict(config["vae"])
    if small:
        vae["decoder_base_channels"] = 8
    return vae


def make_decoder(vae: dict, seed: int) -> VideoDecoder:
    """The decoder `vae` describes, with N(0, 0.02) bfloat16 weights."""
    decoder = VideoDecoder(VideoDecoderConfig.from_config(vae))
    params = tree_flatten(decoder.parameters())
    keys = mx.random.split(mx.random.key(seed), len(params))
    decoder.update(
        tree_unflatten(
            [
                (name, (mx.random.normal(p.shape, key=k) * 0.02).astype(mx.bfloat16))
                for (name, p), k in zip(params, keys)
            ]
        )
    )
    mx.eval(decoder.parameters())
    return decoder


def run_decode(decoder: VideoDecoder, latent: mx.array, tiling, budget: int | None) -> int:
    """Evaluate every step as the decode stage does (each tile, then each chunk); returns the frame count."""
    frames = 0
    for step in decode_steps(decoder, latent, tiling=tiling, memory_budget=budget):
        mx.eval(step.state)
        if step.frames is not None:
            frames += step.frames.shape[1]
    return frames


def time_case(decoder, latent, tiling, budget: int | None, warmups: int, runs: int) -> dict:
    for _ in range(warmups):
        run_decode(decoder, latent, tiling, budget)
    mx.synchronize()
    mx.reset_peak_memory()
    times, frames = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        frames = run_decode(decoder, latent, tiling, budget)
        mx.synchronize()
        times.append(time.perf_counter() - t0)
    return {
        "median_s": statistics.median(times),
        "runs_s": times,
        "frames": frames,
        "frames_per_s": frames / statistics.median(times),
        "peak_gb": mx.get_peak_memory() / GB,
    }


def tile_extent(tiling, shape) -> tuple[int, int, int]:
    _, f, h, w, _ = shape
    if tiling is None:
        return f, h, w
    size = tiling.tile_size
    return (min(tiling.tile_frames or f, f), min(size or h, h), min(size or w, w))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="scaled-down decoders and latents (CPU smoke run)")
    parser.add_argument("--gens", default="19b,22b")
    parser.add_argument("--warmups", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget-gb", type=float, default=None, help="memory budget of the auto tiling")
    parser.add_argument(
        "--max-untiled-gb",
        type=float,
        default=None,
        help="skip untiled cases whose estimate exceeds this (default: device memory if known)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    info = mx.device_info()
    budget = int(args.budget_gb * GB) if args.budget_gb else None
    limit = args.max_untiled_gb * GB if args.max_untiled_gb else info.get("memory_size") or info.get("total_memory")
    fixed_tiling = OFFICIAL_TILING
    if args.small:
        sizes = {"small 25x96x128": (4, 3, 4)}
        fixed_tiling = TilingConfig(tile_frames=3, frame_overlap=1, tile_size=2, spatial_overlap=1)
    else:
        sizes = {"121x512x768": (16, 16, 24), "121x1024x1536": (16, 32, 48)}

    results = []
    for gen in args.gens.split(","):
        decoder = make_decoder(vae_config(gen, args.small), seed=0)
        weights_gb = sum(v.nbytes for _, v in tree_flatten(decoder.parameters())) / GB
        for label, (f, h, w) in sizes.items():
            latent = mx.random.normal((1, 128, f, h, w), key=mx.random.key(1)).astype(mx.bfloat16)
            shape = (1, f, h, w, 128)
            case_budget = budget
            if args.small and budget is None:  # force the auto path to tile
                case_budget = estimate_decode_bytes(decoder.config, 1, f, h, w, mx.bfloat16) // 3
            auto = choose_tiling(decoder.config, shape, mx.bfloat16, case_budget)
            for path, tiling in (("untiled", None), ("fixed-tiling", fixed_tiling), ("auto", auto)):
                estimate = estimate_decode_bytes(decoder.config, 1, *tile_extent(tiling, shape), mx.bfloat16)
                row = {
                    "gen": gen,
                    "shape": label,
                    "path": path,
                    "tiling": repr(tiling),
                    "estimate_gb": estimate / GB,
                    "weights_gb": weights_gb,
                }
                if tiling is None and limit and estimate > limit:
                    row["skipped"] = f"estimate {estimate / GB:.1f} GB > {limit / GB:.1f} GB"
                else:
                    try:
                        row.update(time_case(decoder, latent, tiling, case_budget, args.warmups, args.runs))
                        # Peak beyond the resident weights and latent: what the estimate predicts.
                        row["activation_peak_gb"] = row["peak_gb"] - weights_gb - latent.nbytes / GB
                    except RuntimeError as e:  # out of memory on the device: record and go on
                        row["error"] = str(e)[:300]
                results.append(row)
                print(json.dumps(row), flush=True)
        del decoder
        mx.clear_cache()

    write_results("vae_decode", {"small": args.small, "results": results}, args.out)


if __name__ == "__main__":
    main()
