"""The end-to-end throughput benchmark: its tiny-model run measures what it claims, and the full-size
random-weight files it would render on a GPU pass the loader's checks and strict loads."""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path

import mlx.core as mx
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    """bench.render_throughput and bench.random_models, with the environment the import sets restored."""
    saved = dict(os.environ)
    sys.path.insert(0, str(ROOT))
    try:
        rt = importlib.import_module("bench.render_throughput")
        rm = importlib.import_module("bench.random_models")
    finally:
        sys.path.remove(str(ROOT))
        for k in set(os.environ) - set(saved):
            del os.environ[k]
        os.environ.update(saved)
    return rt, rm


def test_tiny_run_reports_per_stage_seconds_throughput_first_call_and_one_mp4_per_video(bench, tmp_path):
    rt, rm = bench
    from ltxmlx.loader import builder

    source = builder._source_weights
    result = rt.run_benchmark(["ltx23"], [(128, 128, 17)], [1, 2], repeats=1, work=tmp_path, small=True,
                              text_length=rt.SMALL_TEXT_LENGTH)
    assert builder._source_weights is source  # the random-weight hook is undone afterwards
    assert result["builds"]["ltx23"]["total_s"] > 0 and result["builds"]["ltx23"]["resident_gib"] > 0
    rows = result["rows"]
    assert [(r["model"], r["size"], r["batch"]) for r in rows] == [("ltx23", "128x128x17", 1), ("ltx23", "128x128x17", 2)]
    for row in rows:
        stages = ["setup", "text", "stage1", "upsample", "stage2", "decode", "mux"]
        assert list(row["stages_s"]) == stages
        assert all(row["stages_s"][s] > 0 for s in stages[1:])
        assert row["videos_per_hour"] == pytest.approx(3600 * row["batch"] / row["render_s"], rel=1e-2)
        assert row["render_s"] >= sum(row["stages_s"][s] for s in stages) * 0.99
        assert row["first_call_s"] > 0 and list(row["first_call_stages_s"]) == stages
        assert row["peak_gib"] > 0 and row["peak_gib"] >= max(row["stage_peak_gib"].values())
        assert row["builds_in_renders"] == 0  # models stayed resident: no render rebuilt one
        # timed renders encode their new prompts; the repeated prompts come from the cache
        assert row["prompts_encoded_per_timed_render"] == [row["batch"]]
        assert row["cached_prompts"]["prompts_encoded"] == 0 and row["cached_prompts"]["render_s"] > 0
        renders = [row["renders"]["warm_up"], *row["renders"]["timed"], row["renders"]["cached_prompts"]]
        seeds = [s for r in renders for s in r["seeds"]]
        assert len(set(seeds)) == len(seeds)
        for r in renders:
            assert len(r["videos"]) == row["batch"]
            assert all(Path(v["path"]).is_file() and Path(v["path"]).stat().st_size == v["bytes"] > 1000
                       for v in r["videos"])
    table = rt.table(result)
    assert "videos/h" in table and table.count("ltx23  128x128x17") == 2


def test_tiny_ltx25_renders_through_the_benchmark(bench, tmp_path):
    rt, _ = bench
    result = rt.run_benchmark(["ltx25"], [(128, 128, 9)], [1], repeats=1, work=tmp_path, small=True,
                              text_length=rt.SMALL_TEXT_LENGTH)
    (row,) = result["rows"]
    assert row["videos_per_hour"] > 0 and row["builds_in_renders"] == 0
    assert len(row["renders"]["timed"][0]["videos"]) == 1


@pytest.mark.parametrize("model", ["ltx23", "ltx25"])
def test_full_size_files_pass_the_pipeline_checks_without_weight_data(bench, tmp_path, model):
    rt, rm = bench
    from ltxmlx.pipelines.factory import make_pipeline

    files = rm.model_files(model, tmp_path / "files")
    stages = make_pipeline(rt.pipeline_config(files, rt.parse_size("768x512x121"), tmp_path / "cache", None, "none"))
    assert [s.name for s in stages] == ["text", "stage1", "upsample", "stage2", "decode"]
    on_disk = sum(p.stat().st_blocks * 512 for p in (tmp_path / "files").rglob("*") if p.is_file())
    assert on_disk < 64 * 2**20  # headers (and sparse data sections), never the weights


def test_full_size_ltx25_components_strictly_load_random_weights_in_the_build_dtype(bench, tmp_path):
    """Every model of the LTX-2.5 render gets exactly its parameters from the hook (lazy, never evaluated)."""
    _, rm = bench
    from ltxmlx.loader.builder import load_weights, make_module
    from ltxmlx.loader.checkpoint import open_checkpoint
    from ltxmlx.loader.specs import get_spec
    from ltxmlx.text_encoders.gemma4.loading import embeddings_processor_checkpoint, open_gemma4_checkpoint

    files = rm.model_files("ltx25", tmp_path)
    te, tr = open_gemma4_checkpoint(files.text_encoder), open_checkpoint(files.checkpoint)
    cases = {"transformer": tr, "gemma4": te, "embeddings_processor": embeddings_processor_checkpoint(te, tr),
             "spatial_upsampler": open_checkpoint(files.spatial_upsampler),
             "video_decoder": open_checkpoint(files.video_vae), "audio_decoder": open_checkpoint(files.audio_vae),
             "vocoder": open_checkpoint(files.audio_vae)}
    for component, ckpt in cases.items():
        spec = get_spec(component)
        weights = rm.random_source_weights(spec, ckpt, mx.bfloat16, None)
        load_weights(make_module(spec, ckpt), weights, component, str(ckpt.path))  # strict: raises on a mismatch
        for name, value in weights.items():
            keep = any(re.search(p, name) for p in spec.keep_float32)
            assert value.dtype == (mx.float32 if keep else mx.bfloat16), (component, name)
    transformer = rm.random_source_weights(get_spec("transformer"), tr, mx.bfloat16, None)
    assert sum(v.size for v in transformer.values()) > 15e9  # the full-size model, not a tiny one


def test_random_weights_are_seeded_per_name_and_drawn_in_the_build_dtype(bench):
    _, rm = bench
    from ltxmlx.loader.checkpoint import open_checkpoint
    from ltxmlx.loader.specs import get_spec
    from ltxmlx.pipelines.tiny import ensure_tiny_checkpoints
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = open_checkpoint(ensure_tiny_checkpoints(tmp)["spatial_upsampler"])
        spec = get_spec("spatial_upsampler")
        a = rm.random_source_weights(spec, ckpt, mx.bfloat16, None)
        b = rm.random_source_weights(spec, ckpt, mx.bfloat16, None)
    name = next(k for k, v in a.items() if v.ndim > 1)
    assert a[name].dtype == mx.bfloat16
    assert mx.array_equal(a[name], b[name]).item()
    others = [k for k in a if k != name and a[k].shape == a[name].shape]
    assert not others or not mx.array_equal(a[name], a[others[0]]).item()
    std = mx.std(a[name].astype(mx.float32)).item()
    assert 0.015 < std < 0.025
