"""One transformer forward of a full-size model (LTX-2 19B by default, `--model ltx25`: LTX-2.5 22B)
with random bf16 weights.

Cases: s1 = stage 1 (512x768, 121 frames: 16x16x24 = 6144 video tokens), s2 = stage 2 (1024x1536:
24576 video tokens); r1 / r2 = the two stages of a 768x512x121 two-stage render (384x256: 1536 tokens,
768x512: 6144 tokens); 126 audio tokens and a (B, 1024, D) text context per stream; b1/b2 = batch.
LTX-2.5 inputs mark the first latent frame for its keyframe embedding, as the official pipelines do.
Prints a table and writes JSON. CPU smoke run: ``python bench/transformer_step.py --small --layers 1``.

The MLX environment is the command-line entry points' (`ltxmlx/backend.py`, via `bench/common.py`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402  (sets the MLX environment before MLX loads)

import mlx.core as mx  # noqa: E402
from mlx.utils import tree_flatten, tree_unflatten  # noqa: E402

from bench.transformer_ablations import NAMES as ABLATION_NAMES, ablated  # noqa: E402
from ltxmlx.model.transformer import LTXModel, Modality, TransformerConfig  # noqa: E402

MANIFESTS = {"ltx2": ROOT / "tests" / "fixtures" / "manifest_ltx2_19b.json",
             "ltx25": ROOT / "tests" / "fixtures" / "manifest_ltx25_transformer.json"}
# (latent frames, height, width) of the video tokens, audio tokens, text tokens.
SHAPES = {"s1": ((16, 16, 24), 126, 1024), "s2": ((16, 32, 48), 126, 1024),
          "r1": ((16, 8, 12), 126, 1024), "r2": ((16, 16, 24), 126, 1024)}
SMALL_SHAPES = {"s1": ((2, 4, 4), 8, 16), "s2": ((2, 8, 8), 8, 16), "r1": ((2, 2, 4), 8, 16), "r2": ((2, 4, 8), 8, 16)}
SMALL_DIMS = {
    "num_attention_heads": 4, "attention_head_dim": 32, "cross_attention_dim": 128,
    "audio_num_attention_heads": 4, "audio_attention_head_dim": 16, "audio_cross_attention_dim": 64,
    "caption_channels": 96, "in_channels": 16, "out_channels": 16, "audio_in_channels": 16, "audio_out_channels": 16,
}
# Official FLOP anchors (TFLOP per forward, batch 1, 48 layers) the count below must reproduce.
ANCHORS = {"s1": 201.3, "s2": 1145.8}


def forward_flops(cfg: TransformerConfig, tv: int, ta: int, s: int, batch: int) -> float:
    """Matmul FLOPs: 2*weights*tokens for every linear, 4*Lq*Lk*inner for every attention."""
    d, da = cfg.inner_dim, cfg.audio_inner_dim
    lin = (
        4 * d * d * tv + 2 * d * d * tv + 2 * d * d * s + 2 * d * 4 * d * tv  # video self, text, FFN
        + 4 * da * da * ta + 2 * da * da * ta + 2 * da * da * s + 2 * da * 4 * da * ta  # audio
        + d * da * tv + 2 * da * da * ta + da * d * tv  # A2V: q/out on video, k/v on audio
        + da * da * ta + 2 * d * da * tv + da * da * ta  # V2A: q/out on audio, k/v on video
    )
    att = 4 * tv * tv * d + 4 * ta * ta * da + 4 * tv * s * d + 4 * ta * s * da + 2 * 4 * tv * ta * da
    total = cfg.num_layers * (2 * lin + att)
    total += 2 * (cfg.in_channels * d * tv + cfg.audio_in_channels * da * ta)  # patchify
    total += 2 * (d * cfg.out_channels * tv + da * cfg.audio_out_channels * ta)  # proj_out
    if cfg.caption_channels is not None:
        c = cfg.caption_channels
        total += 2 * s * (c * d + d * d + c * da + da * da)
    # Per-token AdaLN: sinusoid -> linear_1 -> linear_2 -> linear (coef*D), main and AV scale/shift.
    for coef in (cfg.adaln_coefficient, 4):
        total += 2 * tv * (256 * d + d * d + coef * d * d) + 2 * ta * (256 * da + da * da + coef * da * da)
    return batch * total


def random_bf16_model(cfg: TransformerConfig, seed: int = 0) -> LTXModel:
    """Every parameter ~ N(0, 0.02^2) in bf16, evaluated piece by piece (no fp32 copy of the weights)."""
    model = LTXModel(cfg)
    params = tree_flatten(model.parameters())
    keys = mx.random.split(mx.random.key(seed), len(params))
    chunk: list[tuple[str, mx.array]] = []
    for i, ((name, p), key) in enumerate(zip(params, keys)):
        chunk.append((name, mx.random.normal(p.shape, dtype=mx.bfloat16, key=key) * 0.02))
        if len(chunk) >= 64 or i == len(params) - 1:
            model.update(tree_unflatten(chunk))
            mx.eval([v for _, v in chunk])
            chunk = []
    return model


def make_inputs(
    cfg: TransformerConfig, grid, ta: int, s: int, batch: int, key, per_item: bool = False
) -> tuple[Modality, Modality]:
    """per_item: (B, 1, 1) timesteps (the uniform-noise fast path) instead of per-token (B, T, 1)."""
    f, h, w = grid
    tv = f * h * w
    k = mx.random.split(key, 4)
    fi, hi, wi = mx.meshgrid(mx.arange(f), mx.arange(h), mx.arange(w), indexing="ij")
    t0 = mx.maximum(fi.reshape(-1) * 8 - 7, 0) / 24.0
    t1 = (fi.reshape(-1) * 8 + 1) / 24.0
    hs, ws = hi.reshape(-1) * 32.0, wi.reshape(-1) * 32.0
    vpos = mx.stack([mx.stack([t0, t1], -1), mx.stack([hs, hs + 32], -1), mx.stack([ws, ws + 32], -1)])
    ai = mx.arange(ta)
    apos = mx.stack([mx.maximum(ai * 4 - 3, 0) * 0.01, (ai * 4 + 1) * 0.01], -1)[None]
    sigma = mx.full((batch,), 0.7)
    marks = {}
    if cfg.keyframes_embedding:  # the first latent frame is marked (official pipelines)
        marks["keyframes_mask"] = mx.broadcast_to((mx.arange(tv) < h * w).astype(mx.float32)[None, :, None], (batch, tv, 1))
    video = Modality(
        latent=mx.random.normal((batch, tv, cfg.in_channels), key=k[0]),
        sigma=sigma,
        timesteps=mx.full((batch, 1 if per_item else tv, 1), 0.7),
        positions=mx.broadcast_to(vpos[None].astype(mx.float32), (batch, 3, tv, 2)),
        context=mx.random.normal((batch, s, cfg.video_context_dim), dtype=mx.bfloat16, key=k[1]),
        **marks,
    )
    audio = Modality(
        latent=mx.random.normal((batch, ta, cfg.audio_in_channels), key=k[2]),
        sigma=sigma,
        timesteps=mx.full((batch, 1 if per_item else ta, 1), 0.7),
        positions=mx.broadcast_to(apos[None].astype(mx.float32), (batch, 1, ta, 2)),
        context=mx.random.normal((batch, s, cfg.audio_context_dim), dtype=mx.bfloat16, key=k[3]),
    )
    mx.eval(video, audio)
    return video, audio


def chained_steps(model, video, audio, n: int, pipelined: bool) -> float:
    """ms per step of n forwards that each feed the next (as a denoise loop does). Pipelined: evaluate
    asynchronously, so the host builds step i+1's graph while the device computes step i (the runner does
    this for denoising steps); blocking: mx.eval after every step."""
    start = time.perf_counter()
    for _ in range(n):
        v_vel, a_vel = model(video, audio)
        video = dataclasses.replace(video, latent=(video.latent - 0.01 * v_vel).astype(video.latent.dtype))
        audio = dataclasses.replace(audio, latent=(audio.latent - 0.01 * a_vel).astype(audio.latent.dtype))
        (mx.async_eval if pipelined else mx.eval)(video.latent, audio.latent)
    mx.eval(video.latent, audio.latent)
    return (time.perf_counter() - start) * 1e3 / n


def time_forwards(model, video, audio, args, case, mode, variant, weights_gib, cfg, tv, ta, s, batch) -> dict:
    """Warm-ups, then timed forwards ending in `mx.eval`; the row of one (case, timesteps, ablation)."""
    mx.reset_peak_memory()
    times, builds = [], []
    for i in range(args.warmup + args.runs):
        start = time.perf_counter()
        out = model(video, audio)
        built = time.perf_counter()
        mx.eval(out)
        del out
        if i >= args.warmup:
            times.append((time.perf_counter() - start) * 1e3)
            builds.append((built - start) * 1e3)
    chain = {}
    if args.chain:
        for pipelined in (False, True):
            chained_steps(model, video, audio, 2, pipelined)  # warm-up
            chain["pipelined" if pipelined else "blocking"] = round(
                chained_steps(model, video, audio, args.chain, pipelined), 2)
    median = statistics.median(times)
    flop = forward_flops(cfg, tv, ta, s, batch)
    peak = mx.get_peak_memory() / 2**30
    r = {
        "case": case, "timesteps": mode, "ablation": variant, "batch": batch, "video_tokens": tv,
        "audio_tokens": ta, "text_tokens": s, "median_ms": round(median, 2), "times_ms": [round(t, 2) for t in times],
        "graph_build_ms": round(statistics.median(builds), 2),
        "peak_gib": round(peak, 3), "peak_over_weights_gib": round(peak - weights_gib, 3), "flop": flop,
        "tflops_per_s": float(f"{flop / 1e12 / (median / 1e3):.4g}"),
        **({"chain_steps": args.chain, "chain_ms_per_step": chain} if chain else {}),
    }
    print(f"{case:6} {mode:9} {variant:14} B={batch} Tv={tv:6} {r['median_ms']:9.1f} ms (build {r['graph_build_ms']:5.1f})  "
          f"{flop / 1e12:8.4g} TFLOP {r['tflops_per_s']:6.4g} TFLOP/s  peak {peak:.2f} GiB "
          f"(+{r['peak_over_weights_gib']:.2f})", flush=True)
    if chain:
        print(f"{'':6} {mode:9} chained x{args.chain}: {chain['blocking']:.1f} ms/step blocking, "
              f"{chain['pipelined']:.1f} ms/step pipelined", flush=True)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(MANIFESTS), default="ltx2", help="whose full-size config")
    ap.add_argument("--layers", type=int, default=48)
    ap.add_argument("--cases", default="s1b1,s1b2,s2b1", help="comma list of s{1,2}b{N}")
    ap.add_argument("--small", action="store_true", help="tiny widths and shapes (CPU smoke run)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timesteps", default="per_token,per_item",
                    help="comma list: per_token ((B,T,1), exact general path), per_item ((B,1,1) fast path)")
    ap.add_argument("--headroom-gib", type=float, default=None,
                    help="mx.set_memory_limit(weights + this): eval waits for the GPU instead of running ahead")
    ap.add_argument("--compiled", action="store_true", help="LTXModel.compiled = True (one mx.compile'd forward)")
    ap.add_argument("--chain", type=int, default=0,
                    help="also time N chained forwards (a denoise loop), blocking vs pipelined evaluation")
    ap.add_argument("--ablate", default="full",
                    help=f"comma list of {', '.join(ABLATION_NAMES)}: passes removed (bench/transformer_ablations.py)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    raw = dict(json.loads(MANIFESTS[args.model].read_text())["metadata"]["config"]["transformer"])
    full = TransformerConfig.from_config(raw)
    for stage, anchor in ANCHORS.items() if args.model == "ltx2" else ():  # must reproduce the official anchors
        grid, ta, s = SHAPES[stage]
        got = forward_flops(full, grid[0] * grid[1] * grid[2], ta, s, 1) / 1e12
        assert abs(got - anchor) < 0.05, f"FLOP count {got:.1f} TFLOP != official anchor {anchor} ({stage})"
    raw["num_layers"] = args.layers
    if args.small:
        raw.update(SMALL_DIMS)
    cfg = TransformerConfig.from_config(raw)
    shapes = SMALL_SHAPES if args.small else SHAPES

    t0 = time.perf_counter()
    model = random_bf16_model(cfg)
    model.compiled = args.compiled
    print(f"built {cfg.num_layers}-layer model in {time.perf_counter() - t0:.1f}s "
          f"({mx.get_active_memory() / 2**30:.1f} GiB active)", flush=True)

    weights_gib = mx.get_active_memory() / 2**30
    if args.headroom_gib is not None:
        mx.set_memory_limit(int((weights_gib + args.headroom_gib) * 2**30))
    rows = []
    modes = [t.strip() for t in args.timesteps.split(",") if t.strip()]
    for case in [c.strip() for c in args.cases.split(",") if c.strip()]:
        m = re.fullmatch(r"([sr][12])b(\d+)", case)
        if not m:
            raise SystemExit(f"bad case {case!r}: expected s1bN, s2bN, r1bN or r2bN")
        stage, batch = m.group(1), int(m.group(2))
        grid, ta, s = shapes[stage]
        tv = grid[0] * grid[1] * grid[2]
        for mode in modes:
            if mode not in ("per_token", "per_item"):
                raise SystemExit(f"bad timesteps mode {mode!r}")
            video, audio = make_inputs(cfg, grid, ta, s, batch, mx.random.key(1), per_item=mode == "per_item")
            for variant in [a.strip() for a in args.ablate.split(",") if a.strip()]:
                with ablated(variant):
                    rows.append(time_forwards(model, video, audio, args, case, mode, variant, weights_gib, cfg, tv, ta, s, batch))
            del video, audio

    write_results("transformer_step" if args.model == "ltx2" else f"transformer_step_{args.model}", {
        "model": args.model, "layers": cfg.num_layers, "small": args.small, "dtype": "bfloat16",
        "weights_gib": round(weights_gib, 3), "headroom_gib": args.headroom_gib, "compiled": model.compiled,
        "flop_note": "per-token AdaLN counted in every row (official HEAD semantics), also for per_item",
        "warmup": args.warmup, "runs": args.runs, "cases": rows,
    }, args.out)


if __name__ == "__main__":
    main()
