"""Peak memory and wall time of the full LTX-2.3 distilled two-stage render with random full-size weights.

text (Gemma 3 12B + embeddings processor) -> stage 1 (352x256) -> x2 upsample -> stage 2 (704x512) ->
video / audio decode -> mp4 mux, 121 frames, for each quantization mode and batch size. The stages are
the pipeline's own (`make_pipeline`), driven like the runner drives them; only the weights are random:
the files are header-only safetensors carrying the official configs (from tests/fixtures/manifest_*),
and the loader's source-weight step returns seeded random tensors instead of reading them, so each
model is built, quantized and evaluated layer by layer exactly as from a real file (no quantized cache);
files and weights come from `bench/random_models.py`.
Peaks are reset per stage (model build included); the whole-run peak is the largest stage peak.

Also: the relative RMS error of one full-size transformer forward (stage-1 shape, fixed random inputs),
for each random-weight scheme of `bench/random_models.py` (N(0, 0.02) everywhere, and the fan-in scaled
scheme of the official tiny fixtures),
for each quantized mode against the unquantized bf16 model with the same weights.

The result's `calibration` gives, per stage, weights / base / per-item bytes in the units of
`ltxmlx.runner.memory.ACTIVATIONS` (from batch 1 and batch 2 peaks), to paste there.

GPU: ``python bench/memory_e2e.py`` (modes none,int8,int4; batches 1,2). CPU smoke run (tiny model,
about a minute): ``python bench/memory_e2e.py --small``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402  (sets the MLX environment before MLX loads)

import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402

from bench.random_models import model_files, random_weights  # noqa: E402
from bench.transformer_step import make_inputs  # noqa: E402
from ltxmlx.loader import builder  # noqa: E402
from ltxmlx.media.video import write_mp4  # noqa: E402
from ltxmlx.pipelines.api import RenderItem  # noqa: E402
from ltxmlx.pipelines.config import ModelFiles, PipelineConfig  # noqa: E402
from ltxmlx.pipelines.factory import make_pipeline  # noqa: E402
from ltxmlx.runner import memory  # noqa: E402
from ltxmlx.runner.render import run_stage  # noqa: E402

GIB = 2**30


def render(files: ModelFiles, mode: str, batch: int, size: tuple[int, int, int], out_dir: Path,
           text_length: int | None) -> dict:
    h, w, f = size
    cfg = PipelineConfig(kind="distilled", files=files, height=h, width=w, num_frames=f, quantization=mode,
                         quant_cache_dir=None, max_batch_size=8, text_max_length=text_length)
    items = [RenderItem(id=f"i{i}", prompt=f"a bench prompt number {i}", negative_prompt="", seed=i)
             for i in range(batch)]
    stages, inputs, rows = make_pipeline(cfg), [{} for _ in items], {}
    for stage in stages:
        mx.clear_cache()
        memory.reset_peak()
        t0 = time.perf_counter()
        with stage:
            built = time.perf_counter()
            outputs = run_stage(stage, items, inputs)
        if stage.name == "decode":
            for i, o in enumerate(outputs):
                write_mp4(out_dir / f"{mode}_b{batch}_{i}.mp4", np.array(o["video"]), cfg.fps,
                          np.array(o["audio"]), stages[-1].audio_sample_rate)
        rows[stage.name] = {"peak_gib": round(memory.peak_bytes() / GIB, 3), "peak_bytes": memory.peak_bytes(),
                            "seconds": round(time.perf_counter() - t0, 2), "build_s": round(built - t0, 2)}
        print(f"{mode} b{batch} {stage.name}: {rows[stage.name]}", flush=True)
        inputs = outputs
    return {"stages": rows, "whole_run_peak_gib": max(r["peak_gib"] for r in rows.values()),
            "seconds": round(sum(r["seconds"] for r in rows.values()), 2)}


def forward_errors(files: ModelFiles, modes: list[str], grid, ta: int, s: int, schemes: list[str]) -> dict:
    """{scheme: {mode: relative RMS (%)}} of a transformer forward per quantized mode vs the unquantized
    model with the same random weights, for each weight scheme (`bench.random_models.SCHEMES`)."""
    out = {}
    for scheme in schemes:
        with random_weights(scheme):
            out[scheme] = _forward_errors(files, modes, grid, ta, s)
    return out


def _forward_errors(files: ModelFiles, modes: list[str], grid, ta: int, s: int) -> dict:
    def forward(mode):
        model = builder.build("transformer", files.checkpoint, dtype=mx.bfloat16, quantization=mode)
        video, audio = make_inputs(model.cfg, grid, ta, s, 1, mx.random.key(7))
        out = model(video, audio)
        mx.eval(out)
        return out

    ref = forward("none")
    errors = {}
    for mode in modes:
        if mode == "none":
            continue
        out = forward(mode)
        errors[mode] = {k: round(100 * float(mx.sqrt(mx.mean((o.astype(mx.float32) - r.astype(mx.float32)) ** 2)
                                                      / mx.mean(r.astype(mx.float32) ** 2)).item()), 3)
                        for k, o, r in (("video", out[0], ref[0]), ("audio", out[1], ref[1]))}
        print(f"forward error {mode}: {errors[mode]} %", flush=True)
    return errors


def calibration(runs: dict, files: ModelFiles, size, modes) -> dict:
    """Per stage and mode: the weights the memory model computes and base / per-item bytes from the
    batch-1 and batch-2 peaks (per item = difference; base = batch-1 peak - weights - per item)."""
    from ltxmlx.config.compose import compose_config
    from ltxmlx.config.validate import to_run_config

    out = {}
    for mode in modes:
        if f"{mode}/b1" not in runs or f"{mode}/b2" not in runs:
            continue
        h, w, f = size
        cfg = to_run_config(compose_config(["model=ltx23_distilled", "pipeline=distilled", "scheduler=distilled",
                                            "guider=none", f"model.quantization={mode}", f"resolution.height={h}",
                                            f"resolution.width={w}", f"resolution.frames={f}", "prompts=[x]"]))
        est = {s.stage: s for s in memory.estimate(cfg, {"checkpoint": Path(files.checkpoint),
                                                         "text_encoder": Path(files.text_encoder),
                                                         "spatial_upsampler": Path(files.spatial_upsampler)}).stages}
        rows = {}
        for stage, s in est.items():
            p1 = runs[f"{mode}/b1"]["stages"][stage]["peak_bytes"]
            p2 = runs[f"{mode}/b2"]["stages"][stage]["peak_bytes"]
            per_item = p2 - p1
            per_unit = memory.activations_for("2.3")[
                "text" if stage == "text" else "diffusion" if stage.startswith("stage") else stage].per_unit
            units = s.per_item_bytes / per_unit if per_unit else 0  # a stage modelled without a per-item term
            rows[stage] = {"weights_gib": round(s.weights_bytes / GIB, 3), "per_item_gib": round(per_item / GIB, 3),
                           "base_gib": round((p1 - s.weights_bytes - per_item) / GIB, 3),
                           "per_unit_bytes": round(per_item / max(units, 1), 3),
                           "model_peak_b1_gib": round(s.peak(1) / GIB, 3), "measured_peak_b1_gib": round(p1 / GIB, 3)}
        out[mode] = rows
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modes", default="none,int8,int4")
    ap.add_argument("--batches", default="1,2")
    ap.add_argument("--small", action="store_true", help="tiny model at 128x128x17 (CPU smoke run)")
    ap.add_argument("--skip-error", action="store_true", help="skip the transformer forward error")
    ap.add_argument("--skip-render", action="store_true", help="only the transformer forward error")
    ap.add_argument("--error-schemes", default="normal,scaled",
                    help="random-weight schemes of the forward error (bench/random_models.py SCHEMES)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    size = (128, 128, 17) if args.small else (512, 704, 121)
    runs = {}
    # random weights through the loader's real build path
    with tempfile.TemporaryDirectory() as tmp, random_weights():
        root = Path(tmp)
        files = model_files("ltx23", root / "files", small=args.small)
        for mode in [] if args.skip_render else modes:
            for batch in batches:
                runs[f"{mode}/b{batch}"] = render(files, mode, batch, size, root, 128 if args.small else None)
        grid = (1 + (size[2] - 1) // 8, size[0] // 64, size[1] // 64)  # stage 1: half size
        ta, s = int(size[2] / 24 * 25), (16 if args.small else 1024)
        schemes = [x.strip() for x in args.error_schemes.split(",") if x.strip()]
        errors = {} if args.skip_error else forward_errors(files, modes, grid, ta, s, schemes)
        cal = calibration(runs, files, size, modes)
    for key, r in runs.items():
        print(f"{key:>10}: whole-run peak {r['whole_run_peak_gib']:.2f} GiB, {r['seconds']:.1f} s")
    write_results("memory_e2e", {"small": args.small, "size_hwf": size, "text_encoder": "Gemma 3 12B, random weights",
                                 "runs": runs, "forward_rel_rms_percent": errors, "stage1_grid": grid,
                                 "calibration": cal}, args.out)


if __name__ == "__main__":
    main()
