"""First-call cost per stage, in a fresh process, with MLX's compiled-kernel cache cold and then warm.

The first call of each stage in a process pays what later calls do not: kernel compilation (MLX-CUDA
compiles fused elementwise graphs and custom kernels at run time, and keeps them on disk under
`MLX_PTX_CACHE_DIR`; the driver caches their machine code under `CUDA_CACHE_PATH`), convolution plans,
first-shape allocations. The parent runs the same child process `--repeats` times on one pair of fresh
cache folders: the first child finds them empty (a first render after installing), the later ones find
what the earlier ones wrote (every later render, since the entry points keep the kernel cache in the
ltxmlx cache folder). Each child times, per stage, the first call and the median of the next calls, on
full-size random bf16 weights (LTX-2.3 22B configs):

- transformer: `--layers` blocks of the 22B transformer at the 768x512x121 stage-2 shape (6144 video
  tokens; every block runs the same kernels, so a few blocks show the compilation of 48), batch 1;
- video_decode: the 22B video decoder on the 768x512x121 latent (the decode stage's automatic plan);
- audio_decode: the 22B audio decoder + vocoder with bandwidth extension, 5 s.

    python bench/first_call.py [--repeats 2] [--out FILE]       # on the GPU machine
    python bench/first_call.py --small                         # CPU smoke run (narrow models)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STAGES = ("transformer", "video_decode", "audio_decode")


def timed(fn, runs: int) -> dict:
    import mlx.core as mx

    t0 = time.perf_counter()
    mx.eval(fn())
    mx.synchronize()
    first = time.perf_counter() - t0
    steady = []
    for _ in range(runs):
        t0 = time.perf_counter()
        mx.eval(fn())
        mx.synchronize()
        steady.append(time.perf_counter() - t0)
    median = statistics.median(steady)
    return {"first_s": round(first, 4), "steady_s": round(median, 4), "first_call_cost_s": round(first - median, 4)}


def stage_calls(small: bool, layers: int) -> dict:
    """Stage name -> a zero-argument callable returning the arrays to evaluate (models built here)."""
    import mlx.core as mx

    from bench import audio_decode, transformer_step, vae_decode
    from ltxmlx.model.audio_vae import AudioDecoder, AudioVAEConfig, VocoderConfig, build_vocoder, decode_audio
    from ltxmlx.model.transformer import TransformerConfig
    from ltxmlx.model.video_vae.decode import decode_steps

    manifest = json.loads((ROOT / "tests" / "fixtures" / "manifest_ltx23_22b.json").read_text())["metadata"]
    config = manifest["config"] if isinstance(manifest["config"], dict) else json.loads(manifest["config"])
    raw = dict(config["transformer"], num_layers=layers)
    if small:
        raw.update(transformer_step.SMALL_DIMS)
    model = transformer_step.random_bf16_model(TransformerConfig.from_config(raw))
    shapes = transformer_step.SMALL_SHAPES if small else transformer_step.SHAPES
    grid, ta, s = shapes["r2"]
    video, audio = transformer_step.make_inputs(model.cfg, grid, ta, s, 1, mx.random.key(3), per_item=True)

    decoder = vae_decode.make_decoder(vae_decode.vae_config("22b", small), seed=4)
    latent = mx.random.normal((1, 128, *(grid if not small else (2, 4, 4))), key=mx.random.key(5)).astype(mx.bfloat16)

    def video_decode():
        out = None
        for step in decode_steps(decoder, latent):
            mx.eval(step.state)
            out = step.frames if step.frames is not None else out
        return out

    audio_config = audio_decode.load_config("22b", small)
    adec = AudioDecoder(AudioVAEConfig.from_config(audio_config))
    audio_decode.randomize(adec, mx.bfloat16, seed=6)
    vocoder = build_vocoder(VocoderConfig.from_config(audio_config))
    audio_decode.randomize(vocoder, mx.float32, seed=7)
    alatent = mx.random.normal((1, 8, 2 if small else 126, 16), key=mx.random.key(8)).astype(mx.bfloat16)
    return {
        "transformer": lambda: model(video, audio),
        "video_decode": video_decode,
        "audio_decode": lambda: decode_audio(alatent, adec, vocoder)[0],
    }


def child(args) -> None:
    from bench.common import device_name  # sets the MLX environment (the parent's cache folders win)

    t0 = time.perf_counter()
    calls = stage_calls(args.small, args.layers)
    build_s = time.perf_counter() - t0
    rows = {name: timed(calls[name], args.runs) for name in STAGES}
    print(json.dumps({"device": device_name(), "build_s": round(build_s, 2), "stages": rows}))


def parent(args) -> None:
    from bench.common import write_results

    repeats = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, MLX_PTX_CACHE_DIR=str(Path(tmp) / "ptx"), CUDA_CACHE_PATH=str(Path(tmp) / "nv"))
        cmd = [sys.executable, __file__, "--child", "--layers", str(args.layers), "--runs", str(args.runs)]
        for i in range(args.repeats):
            done = subprocess.run(cmd + (["--small"] if args.small else []), env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"child {i} failed:\n{done.stderr[-4000:]}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["cache"] = "cold" if i == 0 else "warm"
            repeats.append(row)
            print(json.dumps(row), flush=True)
    print(f"{'stage':<14}" + "".join(f"{r['cache'] + ' first-call s':>20}" for r in repeats) + f"{'steady s':>12}")
    for name in STAGES:
        cells = "".join(f"{r['stages'][name]['first_call_cost_s']:>20.3f}" for r in repeats)
        print(f"{name:<14}{cells}{repeats[-1]['stages'][name]['steady_s']:>12.3f}")
    write_results("first_call", {"small": args.small, "layers": args.layers, "repeats": repeats}, args.out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="narrow models, short inputs (CPU smoke run)")
    parser.add_argument("--layers", type=int, default=4, help="transformer blocks")
    parser.add_argument("--runs", type=int, default=3, help="steady calls per stage after the first")
    parser.add_argument("--repeats", type=int, default=2, help="child processes on the same caches")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    child(args) if args.child else parent(args)


if __name__ == "__main__":
    main()
