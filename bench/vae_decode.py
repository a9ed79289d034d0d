"""Benchmark: full-size video VAE decode (19B and 22B decoders) with random bf16 weights.

121 frames (latent 16) at 512x768 and 1024x1536, untiled, with the official default tiling
(10-latent temporal chunks overlapping by 4, 24-latent spatial tiles overlapping by 2: "fixed-tiling") and with the
automatic, memory-budgeted tiling. Each case: warm-ups, then timed runs that consume every chunk
as the pipelines' decode stage does (mx.eval per tile and per chunk); median seconds and peak memory (reset per case), next to
the decoder's own peak estimate.

`--calibrate` instead measures a grid of decode paths (untiled; overlapping tiles; streamed chunks of
1-8 latents, in steps of fewer frames, whole frames and spatial tiles) and fits, per decoder generation
and path, the constants of `ltxmlx.model.video_vae.memory.ACTIVATION_FACTORS` (a `Fit`) that minimize
the largest relative error of the estimate against the measured activation peak (peak - weights -
latent); it prints the table to paste (`["gpu"]`, or `["cpu"]` for a CPU run) and each case's error.
`--refit FILE` fits again from a calibration result without measuring. `--trace`: per-step memory of
streamed decodes (what is held between steps, what one step adds).

    python bench/vae_decode.py                      # on the GPU machine
    python bench/vae_decode.py --calibrate          # on the GPU machine: fitted constants as JSON
    python bench/vae_decode.py --small [--calibrate]  # CPU smoke run with scaled-down decoders
"""

from __future__ import annotations

import argparse
import dataclasses
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
from ltxmlx.model.video_vae.memory import GIB, Fit, device_class, estimate_terms  # noqa: E402

MANIFESTS = {"19b": "manifest_ltx2_19b.json", "22b": "manifest_ltx23_22b.json"}
OFFICIAL_TILING = TilingConfig(tile_frames=10, frame_overlap=4, tile_size=24, spatial_overlap=2)
GB = GIB


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


def trace(decoder: VideoDecoder, latent: mx.array, tiling) -> dict:
    """Where a streamed decode's memory goes: per step, the memory still held after it (carried
    frames, queues, finished frames) and its own peak above what it started with."""
    run_decode(decoder, latent, tiling, None)  # warm-up: kernels and plans
    mx.synchronize()
    mx.clear_cache()
    base = mx.get_active_memory()
    held, peaks = [], []
    for step in decode_steps(decoder, latent, tiling=tiling):
        before = mx.get_active_memory()
        mx.reset_peak_memory()
        mx.eval(step.state)
        peaks.append(mx.get_peak_memory() - before)
        held.append(mx.get_active_memory() - base)
    worst = max(range(len(peaks)), key=lambda i: held[i] + peaks[i])
    return {"tiling": repr(tiling), "steps": len(peaks), "max_held_gb": max(held) / GB,
            "max_step_peak_gb": max(peaks) / GB, "worst_step": worst, "worst_held_gb": held[worst] / GB,
            "worst_step_peak_gb": peaks[worst] / GB, "held_gb": [round(h / GB, 3) for h in held],
            "step_peak_gb": [round(p / GB, 3) for p in peaks]}


def calibration_grid(small: bool) -> list[TilingConfig | None]:
    """Decode plans measured by --calibrate: every path, several chunk lengths and tile sizes."""
    if small:
        return [
            None,
            TilingConfig(tile_frames=3, frame_overlap=1, tile_size=2, spatial_overlap=1),
            *(TilingConfig(chunk_frames=c) for c in (1, 2)),
            TilingConfig(chunk_frames=1, step_frames=4),
            TilingConfig(chunk_frames=1, tile_size=3, spatial_overlap=1),
        ]
    return [
        None,
        OFFICIAL_TILING,
        TilingConfig(tile_frames=8, frame_overlap=3, tile_size=16, spatial_overlap=2),
        *(TilingConfig(chunk_frames=c) for c in (1, 2, 3, 4, 8)),
        *(TilingConfig(chunk_frames=1, step_frames=s) for s in (4, 2)),
        TilingConfig(chunk_frames=2, tile_size=24, spatial_overlap=2),
        TilingConfig(chunk_frames=1, tile_size=16, spatial_overlap=2),
    ]


def fit_constants(rows: list[dict]) -> tuple[Fit, float]:
    """The `Fit` minimizing the largest |estimate - measured| / measured over `rows` (grid search over
    non-negative constants), and that error."""
    import numpy as np

    step, carried = np.array([r["step"] for r in rows]), np.array([r["carried"] for r in rows])
    blend, measured = np.array([r["blend"] for r in rows]), np.array([r["measured"] for r in rows])
    a = np.linspace(0, 40, 321)[:, None, None, None]
    b = (np.linspace(0, 4, 41) if carried.any() else np.zeros(1))[None, :, None, None]
    c = (np.linspace(0, 8, 161) * GB)[None, None, :, None]
    worst = (np.abs(a * step + b * carried + c + blend - measured) / measured).max(axis=-1)
    i, j, k = np.unravel_index(worst.argmin(), worst.shape)
    fit = Fit(round(float(a[i, 0, 0, 0]), 3), round(float(b[0, j, 0, 0]), 3), round(float(c[0, 0, k, 0]) / GB, 2) * GB)
    return fit, float(worst[i, j, k])


def fit_table(cases: list[dict], gens) -> tuple[dict, dict]:
    """Per generation and path: the fitted constants and their largest error; each case gets its estimate."""
    table, errors = {}, {}
    for gen in gens:
        for path in ("untiled", "tiled", "chunked"):
            rows = [r for r in cases if r["gen"] == gen and r["path"] == path and "measured" in r]
            if rows:
                table.setdefault(gen, {})[path], errors[f"{gen}/{path}"] = fit_constants(rows)
    for r in cases:
        if "measured" in r:
            fit = table[r["gen"]][r["path"]]
            estimate = fit.step * r["step"] + fit.carried * r["carried"] + fit.base + r["blend"]
            r["estimate_gb"], r["estimate_error"] = estimate / GB, estimate / r["measured"] - 1
    return table, errors


def print_table(table: dict, errors: dict, device: str) -> dict:
    plain = {g: {p: dataclasses.asdict(f) for p, f in paths.items()} for g, paths in table.items()}
    print(f'ACTIVATION_FACTORS["{device}"] = ' + json.dumps(
        {g: {p: f"Fit({f.step}, {f.carried}, {f.base / GB:.2f} * GIB)" for p, f in paths.items()}
         for g, paths in table.items()}))
    print("largest relative error per generation/path: " + json.dumps({k: round(v, 3) for k, v in errors.items()}))
    return plain


def refit(path: Path, out: Path | None) -> None:
    """Fit the constants again from a calibration result (its cases keep their measurements)."""
    record = json.loads(path.read_text())
    sizes = {"121x512x768": (16, 16, 24), "121x1024x1536": (16, 32, 48)}
    for r in record["cases"]:
        if "measured" in r:
            f, h, w = sizes.get(r["shape"]) or tuple(r["latent_fhw"])
            config = VideoDecoderConfig.from_config(vae_config(r["gen"], record.get("small", False)))
            tiling = eval(r["tiling"], {"TilingConfig": TilingConfig})
            terms = estimate_terms(config, 1, f, h, w, mx.bfloat16, tiling, record.get("device_class", "gpu"))
            r.update(step=terms.step, carried=terms.carried, blend=terms.blend)
    table, errors = fit_table(record["cases"], sorted({r["gen"] for r in record["cases"]}))
    record.update(activation_factors=print_table(table, errors, record.get("device_class", "gpu")), worst_error=errors)
    (out or path).write_text(json.dumps(record, indent=2, default=str))


def calibrate(decoders: dict, sizes: dict, small: bool, args) -> dict:
    """Measure the grid on every decoder and size; fit one factor per (generation, path)."""
    cases = []
    for gen, decoder in decoders.items():
        weights = sum(v.nbytes for _, v in tree_flatten(decoder.parameters()))
        for label, (f, h, w) in sizes.items():
            latent = mx.random.normal((1, 128, f, h, w), key=mx.random.key(1)).astype(mx.bfloat16)
            for tiling in calibration_grid(small):
                terms = estimate_terms(decoder.config, 1, f, h, w, mx.bfloat16, tiling)
                row = {"gen": gen, "shape": label, "latent_fhw": (f, h, w), "path": terms.path, "tiling": repr(tiling)}
                if tiling is None and args.limit and terms.step * 9 > args.limit:
                    row["skipped"] = "untiled decode larger than the device"
                else:
                    try:
                        row.update(time_case(decoder, latent, tiling, None, args.warmups, args.runs))
                    except RuntimeError as e:  # out of memory on the device: record and go on
                        row["error"] = str(e)[:300]
                if "peak_gb" in row:
                    row.update(measured=row["peak_gb"] * GB - weights - latent.nbytes, step=terms.step,
                               carried=terms.carried, blend=terms.blend)
                cases.append(row)
                print(json.dumps(row), flush=True)
            del latent
            mx.clear_cache()
    table, errors = fit_table(cases, decoders)
    device = device_class()
    return {"device_class": device, "activation_factors": print_table(table, errors, device), "worst_error": errors,
            "cases": cases}


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
    parser.add_argument("--refit", type=Path, default=None, help="fit again from this calibration result")
    parser.add_argument("--trace", action="store_true",
                        help="per-step memory of streamed decodes at the largest size (no timing)")
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

    if args.refit:
        refit(args.refit, args.out)
        return

    if args.trace:
        label, (f, h, w) = list(sizes.items())[-1]
        rows = []
        for gen in args.gens.split(","):
            decoder = make_decoder(vae_config(gen, args.small), seed=0)
            latent = mx.random.normal((1, 128, f, h, w), key=mx.random.key(1)).astype(mx.bfloat16)
            for tiling in (TilingConfig(chunk_frames=1), *(TilingConfig(chunk_frames=1, step_frames=s) for s in (4, 2))):
                row = {"gen": gen, "shape": label, **trace(decoder, latent, tiling)}
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if not isinstance(v, list)}), flush=True)
            del decoder, latent
            mx.clear_cache()
        write_results("vae_decode_trace", {"small": args.small, "rows": rows}, args.out)
        return

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
