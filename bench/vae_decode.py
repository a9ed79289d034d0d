"""Benchmark: full-size video VAE decode (19B and 22B decoders) with random bf16 weights.

121 frames (latent 16) at 512x768 and 1024x1536, untiled, with the official default tiling
(10-latent temporal chunks overlapping by 4, 24-latent spatial tiles overlapping by 2: "fixed-tiling") and with the
automatic, memory-budgeted tiling. Each case: warm-ups, then timed runs that consume every chunk
as the pipelines' decode stage does (mx.eval per tile and per chunk); median seconds and peak memory (reset per case), next to
the decoder's own peak estimate.

`--calibrate` instead measures a grid of decode paths (untiled; overlapping tiles; streamed chunks of
1-8 latents, whole frames and spatial tiles) and fits, per decoder generation and path, the constant of
`ltxmlx.model.video_vae.memory.ACTIVATION_FACTORS` that minimizes the largest relative error of the
estimate against the measured activation peak (peak - weights - latent); it prints the table to paste
(`ACTIVATION_FACTORS["gpu"]`, or `["cpu"]` for a CPU run) and each case's error with it.

    python bench/vae_decode.py                      # on the GPU machine
    python bench/vae_decode.py --calibrate          # on the GPU machine: fitted constants as JSON
    python bench/vae_decode.py --small [--calibrate]  # CPU smoke run with scaled-down decoders
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
from ltxmlx.model.video_vae.memory import estimate_terms  # noqa: E402

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


def calibration_grid(small: bool) -> list[TilingConfig | None]:
    """Decode plans measured by --calibrate: every path, several chunk lengths and tile sizes."""
    if small:
        return [
            None,
            TilingConfig(tile_frames=3, frame_overlap=1, tile_size=2, spatial_overlap=1),
            *(TilingConfig(chunk_frames=c) for c in (1, 2)),
            TilingConfig(chunk_frames=1, tile_size=3, spatial_overlap=1),
        ]
    return [
        None,
        OFFICIAL_TILING,
        TilingConfig(tile_frames=8, frame_overlap=3, tile_size=16, spatial_overlap=2),
        *(TilingConfig(chunk_frames=c) for c in (1, 2, 3, 4, 8)),
        TilingConfig(chunk_frames=2, tile_size=24, spatial_overlap=2),
        TilingConfig(chunk_frames=1, tile_size=16, spatial_overlap=2),
    ]


def fit_factor(rows: list[dict]) -> tuple[float, float]:
    """The factor f minimizing max |f * scaled + fixed - measured| / measured over `rows`, and that error."""
    ratios = [(r["measured"] - r["fixed"]) / r["scaled"] for r in rows]
    lo, hi = max(min(ratios), 0.1), max(max(ratios), 0.1)

    def worst(f: float) -> float:
        return max(abs(f * r["scaled"] + r["fixed"] - r["measured"]) / r["measured"] for r in rows)

    best = min((lo + (hi - lo) * i / 400 for i in range(401)), key=worst)
    return round(best, 2), worst(best)


def calibrate(decoders: dict, sizes: dict, small: bool, args) -> dict:
    """Measure the grid on every decoder and size; fit one factor per (generation, path)."""
    cases = []
    for gen, decoder in decoders.items():
        weights = sum(v.nbytes for _, v in tree_flatten(decoder.parameters()))
        for label, (f, h, w) in sizes.items():
            latent = mx.random.normal((1, 128, f, h, w), key=mx.random.key(1)).astype(mx.bfloat16)
            for tiling in calibration_grid(small):
                path, scaled, fixed = estimate_terms(decoder.config, 1, f, h, w, mx.bfloat16, tiling)
                row = {"gen": gen, "shape": label, "path": path, "tiling": repr(tiling)}
                if tiling is None and args.limit and scaled * 9 > args.limit:
                    row["skipped"] = "untiled decode larger than the device"
                else:
                    try:
                        row.update(time_case(decoder, latent, tiling, None, args.warmups, args.runs))
                    except RuntimeError as e:  # out of memory on the device: record and go on
                        row["error"] = str(e)[:300]
                if "peak_gb" in row:
                    row.update(measured=row["peak_gb"] * GB - weights - latent.nbytes, scaled=scaled, fixed=fixed)
                cases.append(row)
                print(json.dumps(row), flush=True)
            del latent
            mx.clear_cache()
    table, errors = {}, {}
    for gen in decoders:
        for path in ("untiled", "tiled", "chunked"):
            rows = [r for r in cases if r["gen"] == gen and r["path"] == path and "measured" in r]
            if rows:
                table.setdefault(gen, {})[path], errors[f"{gen}/{path}"] = fit_factor(rows)
    for r in cases:
        if "measured" in r:
            estimate = table[r["gen"]][r["path"]] * r["scaled"] + r["fixed"]
            r["estimate_gb"], r["estimate_error"] = estimate / GB, estimate / r["measured"] - 1
    device = "cpu" if mx.default_device().type == mx.DeviceType.cpu else "gpu"
    print(f'ACTIVATION_FACTORS["{device}"] = {json.dumps(table)}')
    print("largest relative error per generation/path: " + json.dumps({k: round(v, 3) for k, v in errors.items()}))
    return {"device_class": device, "activation_factors": table, "worst_error": errors, "cases": cases}


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
    parser.add_argument("--calibrate", action="store_true", help="fit the memory estimate's constants")
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

    if args.calibrate:
        args.limit = limit
        if args.small:
            sizes = {"small 49x64x96": (7, 2, 3), "small 97x96x128": (13, 3, 4)}
        decoders = {gen: make_decoder(vae_config(gen, args.small), seed=0) for gen in args.gens.split(",")}
        record = calibrate(decoders, sizes, args.small, args)
        write_results("vae_decode_calibration", {"small": args.small, **record}, args.out)
        return

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
            plans = (("untiled", None), ("fixed-tiling", fixed_tiling), ("chunked-2", TilingConfig(chunk_frames=2)))
            for path, tiling in (*plans, ("auto", auto)):
                estimate = estimate_decode_bytes(decoder.config, 1, f, h, w, mx.bfloat16, tiling)
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
