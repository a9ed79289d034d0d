"""Benchmark: LTX-2.5 video decode, diffusion decoder against the conv decoder, random bf16 weights.

Both decoders are built full size from the metadata configs of the real files' manifests
(tests/fixtures/manifest_ltx25_video_vae_{diffusion,conv}.json) and decode one 121-frame 768x512
latent (16 x 16 x 24): untiled as one evaluation, and the diffusion decoder also tiled (two tiles in
time and in width, overlaps at the halo minimum; evaluated per tile). The diffusion decoder runs the
config's number of Euler steps (1 for the real file) with x_T drawn from a fixed key. Median seconds over the timed runs
and peak memory (reset per case, weights included).

    python bench/diffusion_decode.py             # on the GPU machine
    python bench/diffusion_decode.py --small     # CPU smoke run with scaled-down decoders, seconds
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

from ltxmlx.model.video_vae import VideoDecoder, VideoDecoderConfig  # noqa: E402
from ltxmlx.model.video_vae.diffusion import (  # noqa: E402
    DiffusionDecoderConfig,
    DiffusionTiling,
    DiffusionVideoDecoder,
    diffusion_decode_steps,
    min_overlaps,
)

MANIFESTS = {"diffusion": "manifest_ltx25_video_vae_diffusion.json", "conv": "manifest_ltx25_video_vae_conv.json"}
GB = 1024**3
FULL_LATENT = (16, 16, 24)  # 121 frames, 512 high, 768 wide
SMALL_LATENT = (3, 4, 4)


def vae_config(kind: str, small: bool) -> dict:
    meta = json.loads((ROOT / "tests" / "fixtures" / MANIFESTS[kind]).read_text())["metadata"]
    config = meta["config"] if isinstance(meta["config"], dict) else json.loads(meta["config"])
    vae = json.loads(json.dumps(config["vae"]))
    if small and kind == "conv":
        vae["decoder_base_channels"] = 8
    if small and kind == "diffusion":
        dec = vae["decoder"]
        dec.update(head_dim=16, stage_channels=[128, 64, 32, 32, 16], stage_depths=[1, 1, 1, 1, 2])
        dec.update(stage_kernels=[[3, 3, 3]] * 5, stage5_kernel=[3, 5, 5])
    return vae


def randomize(module) -> None:
    """N(0, 0.02) bfloat16 weights (kernels do not depend on the values)."""
    params = tree_flatten(module.parameters())
    keys = mx.random.split(mx.random.key(0), len(params))
    module.update(
        tree_unflatten([(n, (mx.random.normal(p.shape, key=k) * 0.02).astype(mx.bfloat16)) for (n, p), k in zip(params, keys)])
    )
    mx.eval(module.parameters())


def make_decoder(kind: str, small: bool):
    vae = vae_config(kind, small)
    if kind == "conv":
        decoder = VideoDecoder(VideoDecoderConfig.from_config(vae))
    else:
        decoder = DiffusionVideoDecoder(DiffusionDecoderConfig.from_config(vae))
    randomize(decoder)
    return decoder


def _noise(shape):
    return mx.random.normal(shape, key=mx.random.key(2)).astype(mx.bfloat16)


def decode(kind: str, decoder, latent: mx.array, tiling) -> tuple[int, ...]:
    """One decode, evaluated as a decode stage would: the conv decoder and the untiled diffusion
    decoder as one graph, the tiled diffusion decoder step by step (stages 1-3, then each tile)."""
    if kind == "conv":
        out = decoder(latent)
        mx.eval(out)
        return tuple(out.shape)
    if tiling is None:
        out = decoder.decode(latent, _noise)
        mx.eval(out)
        return tuple(out.shape)
    frames = []
    for step in diffusion_decode_steps(decoder, latent, _noise, tiling):
        mx.eval(step.state)
        if step.frames is not None:
            frames.append(step.frames.shape[1])
    return (latent.shape[0], 3, sum(frames), *step.frames.shape[2:4])


def time_case(kind: str, decoder, latent: mx.array, tiling, warmups: int, runs: int) -> dict:
    for _ in range(warmups):
        decode(kind, decoder, latent, tiling)
    mx.synchronize()
    mx.clear_cache()
    mx.reset_peak_memory()
    times, shape = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        shape = decode(kind, decoder, latent, tiling)
        mx.synchronize()
        times.append(time.perf_counter() - t0)
    return {
        "median_s": statistics.median(times),
        "runs_s": times,
        "output_shape": shape,
        "peak_gb": mx.get_peak_memory() / GB,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="scaled-down decoders and latent (CPU smoke run)")
    parser.add_argument("--kinds", default="diffusion,conv")
    parser.add_argument("--warmups", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    f, h, w = SMALL_LATENT if args.small else FULL_LATENT
    latent = mx.random.normal((1, 128, f, h, w), key=mx.random.key(1)).astype(mx.bfloat16)
    results = []
    for kind in args.kinds.split(","):
        decoder = make_decoder(kind, args.small)
        cases = [("untiled", None)]
        if kind == "diffusion":
            # Two tiles along time and along width, overlaps at the stage-4/5 halo minimum.
            lap_t, lap_px = min_overlaps(decoder.config)
            frames_px, width_px = 1 + 8 * (f - 1), 32 * w
            tile_t = -(-(frames_px + lap_t) // 2 // 16) * 16
            tile_w = -(-(width_px + lap_px) // 2 // 64) * 64
            cases.append(("tiled", DiffusionTiling(frames=(tile_t, lap_t), width=(tile_w, lap_px))))
        for path, tiling in cases:
            row = {
                "decoder": kind,
                "path": path,
                "tiling": repr(tiling),
                "latent": [f, h, w],
                "weights_gb": sum(v.nbytes for _, v in tree_flatten(decoder.parameters())) / GB,
            }
            if kind == "diffusion":
                row["steps"] = decoder.config.num_inference_steps
                row["model_output_type"] = decoder.config.model_output_type
            try:
                row.update(time_case(kind, decoder, latent, tiling, args.warmups, args.runs))
            except RuntimeError as e:  # out of memory on the device: record and go on
                row["error"] = str(e)[:300]
            results.append(row)
            print(json.dumps(row), flush=True)
        del decoder
        mx.clear_cache()
    write_results("diffusion_decode", {"small": args.small, "results": results}, args.out)


if __name__ == "__main__":
    main()
