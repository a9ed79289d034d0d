"""Finished videos per hour of the full distilled two-stage render (LTX-2.3 and LTX-2.5), random full-size weights.

Each render is what a queued job does: make the pipeline (`make_pipeline`), then text (Gemma + embeddings
processor, through the prompt cache) -> stage 1 (half size) -> x2 upsample -> stage 2 -> decode (video
and audio, streamed chunk by chunk) -> mp4 mux, every stage driven by the runner's `run_stage`. The
models stay resident between renders, as in the queue worker: they are built once per model inside
`resident()` (build seconds reported apart) and every later build is a pool hit (`builds_in_renders`
counts the misses: 0 means nothing was rebuilt). Weights are random (`bench/random_models.py`).

For each (model, size, batch): one warm-up render (first call: kernel compilation and first-shape costs,
no model build), then `--repeats` timed renders with new seeds and prompts never seen before (so the
text stage runs Gemma: uncached), then one render repeating the last prompts (text from the prompt
cache). Reported per config: median seconds per stage and per render, videos/hour = 3600 * batch /
median render seconds, the warm-up's seconds, and peak memory (`mx.get_peak_memory`, reset at each
stage; the render's peak is the largest stage peak), resident weights included.

Sizes are WIDTHxHEIGHTxFRAMES. GPU (one model / size per command keeps each under ten minutes):
``python bench/render_throughput.py --model ltx23 --sizes 768x512x121 --batches 1,2,4``.
CPU smoke run (tiny models): ``python bench/render_throughput.py --small``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402  (sets the MLX environment before MLX loads)

import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402

from bench.random_models import MODELS, model_files, random_weights  # noqa: E402
from ltxmlx.config.validate import validate_items  # noqa: E402
from ltxmlx.loader.resident import ResidentPool, resident  # noqa: E402
from ltxmlx.media.video import write_mp4  # noqa: E402
from ltxmlx.pipelines.api import RenderItem  # noqa: E402
from ltxmlx.pipelines.config import ModelFiles, PipelineConfig  # noqa: E402
from ltxmlx.pipelines.factory import make_pipeline  # noqa: E402
from ltxmlx.pipelines.text_stage import TextStage  # noqa: E402
from ltxmlx.runner import memory  # noqa: E402
from ltxmlx.runner.render import run_stage  # noqa: E402

GIB = 2**30
FULL_SIZES = "768x512x121,384x256x33"
SMALL_SIZES = "128x128x17"
SMALL_TEXT_LENGTH = 128  # tiny models: a short Gemma sequence keeps the CPU run quick


def parse_size(text: str) -> tuple[int, int, int]:
    """'WIDTHxHEIGHTxFRAMES' -> (height, width, frames)."""
    try:
        w, h, f = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size {text!r}: expected WIDTHxHEIGHTxFRAMES, e.g. 768x512x121") from None
    return h, w, f


def size_name(size: tuple[int, int, int]) -> str:
    h, w, f = size
    return f"{w}x{h}x{f}"


def pipeline_config(files: ModelFiles, size: tuple[int, int, int], prompt_cache: Path, text_length: int | None,
                    quantization: str) -> PipelineConfig:
    h, w, f = size
    return PipelineConfig(kind="distilled", files=files, height=h, width=w, num_frames=f, quantization=quantization,
                          max_batch_size=8, text_max_length=text_length, prompt_cache_dir=str(prompt_cache))


def build_models(cfg: PipelineConfig) -> dict[str, float]:
    """Build every model of the pipeline once into the active resident pool; seconds per stage
    (a stage whose models another stage already built shows its pool lookup only)."""
    seconds = {}
    for stage in make_pipeline(cfg):
        t0 = time.perf_counter()
        with stage:
            if isinstance(stage, TextStage):  # Gemma and the processor load on the first cache miss
                stage.load_models()
        seconds[stage.name] = round(time.perf_counter() - t0, 3)
    return seconds


def _cache_entries(cfg: PipelineConfig) -> int:
    """Prompt-cache entries: each prompt Gemma encodes adds one, a cache hit none."""
    return len(list(Path(cfg.prompt_cache_dir).glob("*.safetensors")))


def render_once(cfg: PipelineConfig, items: list[RenderItem], out_dir: Path, pool: ResidentPool) -> dict:
    """One job: make the pipeline and check the items (setup), run every stage over the batch, mux one
    mp4 per item."""
    pool.begin_job()
    misses, cached = pool.misses, _cache_entries(cfg)
    stages_s, peaks = {}, {}
    start = time.perf_counter()
    memory.reset_peak()
    stages = make_pipeline(cfg)
    validate_items(cfg, items)
    stages_s["setup"], peaks["setup"] = time.perf_counter() - start, memory.peak_bytes()
    inputs = [{} for _ in items]
    for stage in stages:
        memory.reset_peak()
        t0 = time.perf_counter()
        with stage:
            inputs = run_stage(stage, items, inputs)
        stages_s[stage.name], peaks[stage.name] = time.perf_counter() - t0, memory.peak_bytes()
    memory.reset_peak()
    t0 = time.perf_counter()
    videos = []
    for item, out in zip(items, inputs):
        path = write_mp4(out_dir / f"{item.id}.mp4", np.array(out["video"]), cfg.fps, np.array(out["audio"]),
                         stages[-1].audio_sample_rate)
        videos.append({"path": str(path), "bytes": path.stat().st_size})
    stages_s["mux"], peaks["mux"] = time.perf_counter() - t0, memory.peak_bytes()
    return {"seconds": time.perf_counter() - start, "stages_s": stages_s, "peak_bytes": max(peaks.values()),
            "stage_peak_bytes": peaks, "videos": videos, "builds_in_render": pool.misses - misses,
            "prompts_encoded": _cache_entries(cfg) - cached,
            "seeds": [i.seed for i in items]}


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def bench_config(model: str, files: ModelFiles, size: tuple[int, int, int], batch: int, repeats: int,
                 work: Path, pool: ResidentPool, text_length: int | None, quantization: str = "none") -> dict:
    """Warm-up, `repeats` timed renders (new prompts and seeds), one render with cached prompts."""
    cfg = pipeline_config(files, size, work / "prompt-cache", text_length, quantization)
    tag = f"{model}_{size_name(size)}_b{batch}"
    out_dir = work / "videos" / tag
    out_dir.mkdir(parents=True, exist_ok=True)

    def items(render: int, prompts: list[str] | None = None) -> list[RenderItem]:
        prompts = prompts or [f"{tag} render {render} video {i}: a lighthouse on a cliff at dusk, waves below"
                              for i in range(batch)]
        return [RenderItem(id=f"r{render}_v{i}", prompt=p, negative_prompt="", seed=1000 * render + i)
                for i, p in enumerate(prompts)]

    def run(render: int, its: list[RenderItem], label: str) -> dict:
        result = render_once(cfg, its, out_dir, pool)
        print(f"{tag} {label}: {result['seconds']:.2f} s, peak {result['peak_bytes'] / GIB:.2f} GiB, "
              + ", ".join(f"{k} {v:.2f}" for k, v in result["stages_s"].items()), flush=True)
        return result

    warm = run(0, items(0), "warm-up")
    timed = [run(r, items(r), f"render {r}") for r in range(1, repeats + 1)]
    last = [i.prompt for i in items(repeats)]
    cached = run(repeats + 1, items(repeats + 1, last), "cached prompts")
    names = list(timed[0]["stages_s"])
    render_s = _median([t["seconds"] for t in timed])
    return {
        "model": model, "size": size_name(size), "height": size[0], "width": size[1], "frames": size[2],
        "batch": batch, "repeats": repeats, "quantization": quantization,
        "videos_per_hour": round(3600 * batch / render_s, 2), "render_s": render_s,
        "stages_s": {k: _median([t["stages_s"][k] for t in timed]) for k in names},
        "first_call_s": round(warm["seconds"], 3), "first_call_stages_s": {k: round(v, 3) for k, v in warm["stages_s"].items()},
        "peak_gib": round(max(t["peak_bytes"] for t in timed) / GIB, 3),
        "stage_peak_gib": {k: round(max(t["stage_peak_bytes"][k] for t in timed) / GIB, 3) for k in names},
        "cached_prompts": {"render_s": round(cached["seconds"], 3), "text_s": round(cached["stages_s"]["text"], 3),
                           "prompts_encoded": cached["prompts_encoded"]},
        "prompts_encoded_per_timed_render": [t["prompts_encoded"] for t in timed],
        "builds_in_renders": sum(r["builds_in_render"] for r in [warm, *timed, cached]),
        "renders": {"warm_up": warm, "timed": timed, "cached_prompts": cached},
    }


def run_benchmark(models: list[str], sizes: list[tuple[int, int, int]], batches: list[int], repeats: int,
                  work: Path, small: bool = False, quantization: str = "none", text_length: int | None = None,
                  pool_bytes: int | None = None, on_row: Callable[[dict], None] | None = None) -> dict:
    """Every (model, size, batch) config; models resident per model (a fresh pool for each model).

    Returns {"builds": {model: {"total_s", "stages_s", "resident_gib"}}, "rows": [bench_config rows]}."""
    builds, rows = {}, []
    with random_weights():
        for model in models:
            files = model_files(model, work / model / "files", small=small)
            pool = ResidentPool(max_bytes=pool_bytes) if pool_bytes is not None else ResidentPool(max_bytes=2**62)
            with resident(pool):
                t0 = time.perf_counter()
                cfg = pipeline_config(files, sizes[0], work / model / "prompt-cache", text_length, quantization)
                stages = build_models(cfg)
                builds[model] = {"total_s": round(time.perf_counter() - t0, 3), "stages_s": stages,
                                 "resident_gib": round(sum(pool.sizes.values()) / GIB, 3)}
                print(f"{model}: built in {builds[model]['total_s']:.1f} s ({stages}), "
                      f"{builds[model]['resident_gib']:.2f} GiB resident", flush=True)
                for size in sizes:
                    for batch in batches:
                        row = bench_config(model, files, size, batch, repeats, work / model, pool, text_length,
                                           quantization)
                        rows.append(row)
                        if on_row is not None:
                            on_row({"builds": builds, "rows": rows})
            pool.clear()  # the next model's set starts from an empty device
    return {"builds": builds, "rows": rows}


def table(result: dict) -> str:
    stages = ["text", "stage1", "upsample", "stage2", "decode", "mux"]
    head = (f"{'model':<6} {'size':<12} {'b':>2} {'videos/h':>9} {'s/render':>9} "
            + " ".join(f"{s:>8}" for s in stages) + f" {'first s':>8} {'cached s':>8} {'peak GiB':>8}")
    lines = [head, "-" * len(head)]
    for r in result["rows"]:
        lines.append(f"{r['model']:<6} {r['size']:<12} {r['batch']:>2} {r['videos_per_hour']:>9.1f} {r['render_s']:>9.2f} "
                     + " ".join(f"{r['stages_s'].get(s, 0.0):>8.2f}" for s in stages)
                     + f" {r['first_call_s']:>8.2f} {r['cached_prompts']['render_s']:>8.2f} {r['peak_gib']:>8.2f}")
    for model, b in result["builds"].items():
        lines.append(f"{model}: models built once in {b['total_s']:.1f} s ({b['resident_gib']:.2f} GiB resident), "
                     "not part of any render")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=",".join(MODELS), help=f"comma list of {', '.join(MODELS)}")
    ap.add_argument("--sizes", default=None, help=f"WxHxF list (default {FULL_SIZES}; --small: {SMALL_SIZES})")
    ap.add_argument("--batches", default="1,2,4")
    ap.add_argument("--repeats", type=int, default=3, help="timed renders per config (after one warm-up)")
    ap.add_argument("--quantization", default="none", help="transformer and Gemma weights (none, int8, int4, ...)")
    ap.add_argument("--resident-gb", type=float, default=None,
                    help="resident pool budget (default: unlimited, every model of one generation stays built)")
    ap.add_argument("--small", action="store_true", help="tiny models (CPU smoke run)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    models = [m.strip() for m in args.model.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        ap.error(f"unknown model {', '.join(unknown)}; valid: {', '.join(MODELS)}")
    sizes = [parse_size(s) for s in (args.sizes or (SMALL_SIZES if args.small else FULL_SIZES)).split(",") if s.strip()]
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    record = {"small": args.small, "text_encoder": "Gemma 3 12B (ltx23) / Gemma 4 12B (ltx25), random weights",
              "weights": "random, official configs", "pipeline": "distilled two-stage",
              "text_in_timed_renders": "uncached (prompts never seen before); cached_prompts: the same prompts again"}
    pool_bytes = int(args.resident_gb * GIB) if args.resident_gb is not None else None

    def save(partial: dict) -> None:  # after every config, so a run cut short keeps what it measured
        write_results("render_throughput", {**record, **partial}, args.out)

    with tempfile.TemporaryDirectory() as tmp:
        result = run_benchmark(models, sizes, batches, args.repeats, Path(tmp), small=args.small,
                               quantization=args.quantization,
                               text_length=SMALL_TEXT_LENGTH if args.small else None, pool_bytes=pool_bytes,
                               on_row=save)
    print(table(result))


if __name__ == "__main__":
    main()
