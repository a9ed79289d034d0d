"""The per-stage memory model behind `runner.batch_size: auto` and the dry run's per-stage report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ltxmlx.config.compose import compose_config
from ltxmlx.config.validate import to_run_config
from ltxmlx.runner.memory import GIB, MemoryEstimate, StageMemory, model_bytes


REPO = Path(__file__).resolve().parents[2]
LTX23 = json.loads((REPO / "tests/fixtures/manifest_ltx23_22b.json").read_text())["metadata"]["config"]


def test_quantized_transformer_weights_shrink_by_the_quantized_share():
    full = model_bytes("transformer", LTX23, 2, "none")
    int8, int4 = model_bytes("transformer", LTX23, 2, "int8"), model_bytes("transformer", LTX23, 2, "int4")
    assert 34 * GIB < full < 37 * GIB  # 19 B parameters in bf16
    # 98 % of the weights are quantized: 8.5 (int8) / 4.5 (int4) bits per weight with group-64 scales.
    assert 0.52 < int8 / full < 0.56 and 0.28 < int4 / full < 0.32


def test_auto_batch_is_the_largest_that_fits_every_stage():
    est = MemoryEstimate((StageMemory("text", 8 * GIB, GIB, GIB), StageMemory("stage1", 20 * GIB, GIB, 3 * GIB),
                          StageMemory("decode", GIB, GIB, 2 * GIB)), budget_bytes=32 * GIB)
    assert [s.max_batch(est.budget_bytes, 64) for s in est.stages] == [23, 3, 15]
    assert est.batch_size(cap=8) == 3 and est.batch_size(cap=2) == 2
    assert est.stages[1].peak(3) == 30 * GIB
    lines = est.describe(3)
    assert len(lines) == 4 and "stage1    fits batch  3; at batch 3: peak 30.0 GiB" in lines[2]


def test_quantization_changes_the_estimate_of_the_transformer_stages(tmp_path):
    from ltxmlx.runner.job import resolve_weights
    from ltxmlx.runner.memory import estimate

    def est(mode):
        cfg = to_run_config(compose_config(["+job=smoke", f"model.quantization={mode}", f"paths.cache={tmp_path}"]))
        resolved, weights = resolve_weights(cfg, download=True)
        return {s.stage: s for s in estimate(cfg, weights).stages}

    plain, int4 = est("none"), est("int4")
    # The tiny model quantizes its 32-wide video layers only (16-wide audio layers fit no group size).
    assert int4["stage1"].weights_bytes < 0.8 * plain["stage1"].weights_bytes
    assert int4["text"].weights_bytes < plain["text"].weights_bytes
    assert int4["decode"].weights_bytes == plain["decode"].weights_bytes  # decoders are never quantized
    assert plain["stage1"].per_item_bytes < plain["stage2"].per_item_bytes  # stage 1 runs at half size


def test_dry_run_prints_batch_and_peak_per_stage(tmp_path):
    env_cache = tmp_path / "cache"
    proc = subprocess.run(
        [sys.executable, "-m", "ltxmlx.run", "+job=smoke", "runner.dry_run=true", "runner.batch_size=auto",
         "runner.memory_budget_gb=4", "model.quantization=int8", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "LTXMLX_CACHE_DIR": str(env_cache), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    for stage in ("text", "stage1", "upsample", "stage2", "decode"):
        assert any(line.strip().startswith(stage) and "fits batch" in line and "peak" in line
                   for line in out.splitlines()), out[-2000:]
    assert "memory estimate (budget 4.0 GiB" in out


def test_audio_only_pipeline_plans_for_audio_tokens_and_no_pixels(tmp_path):
    from ltxmlx.runner.job import resolve_weights
    from ltxmlx.runner.memory import estimate

    def est(job, *extra):
        cfg = to_run_config(compose_config([f"+job={job}", "seeds=one", f"paths.cache={tmp_path}", *extra]))
        _, weights = resolve_weights(cfg, download=True)
        return {s.stage: s for s in estimate(cfg, weights, ["text", "stage1", "decode"]).stages}

    video = est("t2a", "pipeline=one_stage", "resolution.height=512", "resolution.width=512")
    audio = est("t2a", "resolution.height=512", "resolution.width=512")
    # The audio stream is a small share of the tokens; the picture size does not count at all.
    assert 0 < audio["stage1"].per_item_bytes < 0.2 * video["stage1"].per_item_bytes
    assert audio["stage1"].per_item_bytes == est("t2a")["stage1"].per_item_bytes
    assert audio["decode"].per_item_bytes == 0 < video["decode"].per_item_bytes
