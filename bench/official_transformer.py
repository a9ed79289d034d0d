"""One forward of the official PyTorch transformer (LTX-2 19B config) with random bf16 weights: the other
side of `transformer_step.py`, eager and with the official `compile_transformer` (`--compile` path).

The same cases as `transformer_step.py` (s1 = 512x768x121: 6144 video tokens, s2 = 1024x1536x121: 24576;
126 audio tokens; a (B, 1024, 3840) text context per stream; batch B), per-token timesteps (B, T) as the
official pipelines pass them, no perturbations. The model is built by the official configurator from
the 19B key manifest's metadata (tests/fixtures) on the meta device, given bf16 storage on the GPU, and
every parameter and floating buffer is filled with seeded N(0, 0.02) values. Warm-ups, then timed forwards bracketed by
`torch.cuda.synchronize()`; medians, peak memory per case (`max_memory_allocated`, weights included).
A benchmark harness for the official code only: nothing in the project imports this file.

    python bench/official_transformer.py --official-src DIR [--modes eager,compile] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "tests" / "fixtures" / "manifest_ltx2_19b.json"
# (latent frames, height, width) of the video tokens, audio tokens, text tokens (as transformer_step.py).
SHAPES = {"s1": ((16, 16, 24), 126, 1024), "s2": ((16, 32, 48), 126, 1024)}


def build(torch, configurator, seed: int):
    meta = json.loads(MANIFEST.read_text())["metadata"]
    config = meta["config"] if isinstance(meta["config"], dict) else json.loads(meta["config"])
    # Built on the meta device (as the official builder does), then given bf16 storage on the GPU.
    with torch.device("meta"):
        model = configurator.from_metadata({"config": config})
    model = model.to(torch.bfloat16).to_empty(device="cuda")
    generator = torch.Generator(device="cuda").manual_seed(seed)
    with torch.no_grad():
        for t in [*model.parameters(), *(b for b in model.buffers() if b.is_floating_point())]:
            t.copy_(torch.randn(t.shape, generator=generator, device="cuda", dtype=torch.bfloat16) * 0.02)
    return model.eval()


def inputs(torch, modality_cls, grid, ta: int, s: int, batch: int):
    f, h, w = grid
    tv = f * h * w
    g = torch.Generator(device="cuda").manual_seed(1)
    fi, hi, wi = torch.meshgrid(torch.arange(f), torch.arange(h), torch.arange(w), indexing="ij")
    t0 = torch.clamp(fi.reshape(-1) * 8 - 7, min=0) / 24.0
    t1 = (fi.reshape(-1) * 8 + 1) / 24.0
    hs, ws = hi.reshape(-1) * 32.0, wi.reshape(-1) * 32.0
    vpos = torch.stack([torch.stack([t0, t1], -1), torch.stack([hs, hs + 32], -1), torch.stack([ws, ws + 32], -1)])
    ai = torch.arange(ta)
    apos = torch.stack([torch.clamp(ai * 4 - 3, min=0) * 0.01, (ai * 4 + 1) * 0.01], -1)[None]
    sigma = torch.full((batch,), 0.7, device="cuda")

    def modality(tokens, channels, positions, dim):
        return modality_cls(
            latent=torch.randn(batch, tokens, channels, generator=g, device="cuda").to(torch.bfloat16),
            sigma=sigma,
            timesteps=torch.full((batch, tokens), 0.7, device="cuda"),
            positions=positions[None].expand(batch, *positions.shape).float().cuda(),
            context=torch.randn(batch, s, dim, generator=g, device="cuda").to(torch.bfloat16),
        )

    return modality(tv, 128, vpos, 3840), modality(ta, 128, apos, 3840)


def time_case(torch, model, video, audio, warmup: int, runs: int) -> dict:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    model(video, audio, None)
    torch.cuda.synchronize()
    first = time.perf_counter() - t0
    for _ in range(warmup):
        model(video, audio, None)
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        model(video, audio, None)
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": round(statistics.median(times), 2), "times_ms": [round(t, 2) for t in times],
            "first_call_s": round(first, 2), "peak_gb": round(torch.cuda.max_memory_allocated() / 1e9, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official-src", required=True, type=Path, help="folder holding ltx_core/")
    parser.add_argument("--cases", default="s1b1,s1b2,s2b1")
    parser.add_argument("--modes", default="eager,compile")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "official_transformer.json")
    args = parser.parse_args()
    sys.path.insert(0, str(args.official_src.resolve()))
    import torch
    from ltx_core.model.transformer.compiling import CompilationConfig, compile_transformer
    from ltx_core.model.transformer.modality import Modality
    from ltx_core.model.transformer.model_configurator import LTXModelConfigurator

    rows = []
    model = build(torch, LTXModelConfigurator, seed=0)
    weights_gb = torch.cuda.memory_allocated() / 1e9
    with torch.inference_mode():
        for mode in args.modes.split(","):
            if mode == "compile":
                model = compile_transformer(model, CompilationConfig())
            elif mode != "eager":
                raise SystemExit(f"--modes: unknown {mode!r} (eager, compile)")
            for case in args.cases.split(","):
                stage, batch = case[:2], int(case[3:])
                video, audio = inputs(torch, Modality, *SHAPES[stage], batch)
                row = {"mode": mode, "case": case, "batch": batch, "timesteps": "per_token",
                       **time_case(torch, model, video, audio, args.warmup, args.runs)}
                rows.append(row)
                print(json.dumps(row), flush=True)
                del video, audio
    payload = {"benchmark": "official_transformer", "device": torch.cuda.get_device_name(0),
               "torch": torch.__version__, "platform": platform.platform(), "config": "ltx2 19B, 48 layers",
               "weights_gb": round(weights_gb, 3), "warmup": args.warmup, "runs": args.runs, "cases": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
