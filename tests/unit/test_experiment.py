"""A rerun into a run directory either extends its experiment (more prompts or seeds, recorded in the
history) or is refused naming the settings that differ; it never mixes two experiments."""

from __future__ import annotations

import dataclasses
import json

import pytest

from ltxmlx.config.compose import compose_config
from ltxmlx.config.validate import to_run_config
from ltxmlx.runner.experiment import ExperimentMismatchError
from ltxmlx.runner.job import render
from runner_fakes import fake_pipeline


@pytest.fixture
def cfg(tmp_path):
    ckpt = tmp_path / "weights" / "model.safetensors"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"not really weights")
    (tmp_path / "weights" / "gemma").mkdir()
    overrides = ["+job=smoke", f"model.checkpoint={ckpt}", f"model.spatial_upsampler={ckpt}",
                 f"model.text_encoder={tmp_path / 'weights' / 'gemma'}", f"paths.cache={tmp_path / 'cache'}",
                 f"output_root={tmp_path / 'outputs'}"]
    return to_run_config(compose_config(overrides))


def make(cfg):
    return fake_pipeline()


def _with(cfg, **runner):
    return dataclasses.replace(cfg, runner=dataclasses.replace(cfg.runner, **runner))


def test_rerun_with_other_output_settings_is_refused_naming_the_keys(cfg, tmp_path):
    run = tmp_path / "run"
    render(cfg, run, overrides=[], choices={}, make_stages=make)
    before = (run / "record.json").read_text()
    other = dataclasses.replace(_with(cfg, crf=30), resolution=dataclasses.replace(cfg.resolution, fps=12.0))
    with pytest.raises(ExperimentMismatchError, match=r"2 settings differ: resolution.fps: 24.0 -> 12.0; runner.crf: 19 -> 30"):
        render(other, run, overrides=["runner.crf=30"], choices={}, make_stages=make)
    assert (run / "record.json").read_text() == before  # the record is not overwritten
    assert len((run / "manifest.jsonl").read_text().splitlines()) == 4


def test_rerun_with_more_seeds_extends_and_keeps_history(cfg, tmp_path):
    run = tmp_path / "run"
    render(cfg, run, overrides=[], choices={}, make_stages=make)
    more = dataclasses.replace(cfg, seeds=dataclasses.replace(cfg.seeds, values=[10, 11, 12]))
    out = render(_with(more, batch_size=1), run, overrides=["seeds.values=[10,11,12]"], choices={},
                 make_stages=make)
    assert out.result.finished_before == 4 and len(out.result.finished) == 6
    record = json.loads((run / "record.json").read_text())
    assert [h["seeds"] for h in record["history"]] == [[10, 11], [10, 11, 12]]
    assert record["seeds"] == [10, 11, 12] and len(record["item_ids"]) == 6
    assert record["history"][1]["overrides"] == ["seeds.values=[10,11,12]"]


def test_unreadable_record_is_refused(cfg, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "record.json").write_text("{torn")
    with pytest.raises(ExperimentMismatchError, match="unreadable"):
        render(cfg, run, overrides=[], choices={}, make_stages=make)


def test_extended_directory_replays_every_invocation(cfg, tmp_path):
    from rich.console import Console

    from ltxmlx.replay import replay

    run = tmp_path / "run"
    render(cfg, run, overrides=[], choices={}, make_stages=make)
    one = dataclasses.replace(cfg, prompts=["A third prompt about a quiet harbour"],
                              seeds=dataclasses.replace(cfg.seeds, values=[5]))
    render(one, run, overrides=[], choices={}, make_stages=make)
    assert replay(run, tmp_path / "again", Console(quiet=True), make_stages=make) == []
    assert len(list((tmp_path / "again" / "videos").glob("*.mp4"))) == 5
