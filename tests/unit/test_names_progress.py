"""What a user sees of a run: file names that say prompt, seed and item; one overall progress with
ETA across stages; step bars that never overshoot; a run.log line for every batch."""

from __future__ import annotations

import dataclasses
import io
import logging
import re

import pytest
from rich.console import Console

from ltxmlx.config.compose import compose_config
from ltxmlx.config.naming import slugify
from ltxmlx.config.plan import build_plan
from ltxmlx.config.schema import ConditioningCfg, ImageCondCfg
from ltxmlx.config.validate import to_run_config
from ltxmlx.runner.outputs import RunDir
from ltxmlx.runner.progress import NullProgress, RichProgress
from ltxmlx.runner.runner import Runner
from ltxmlx.runner.stage_cache import StageCache
from runner_fakes import fake_pipeline


@pytest.fixture(scope="module")
def smoke_cfg():
    return to_run_config(compose_config(["+job=smoke"]))


def test_video_names_carry_slug_seed_and_short_id(smoke_cfg):
    plan = build_plan(smoke_cfg, fake_pipeline(), 2)
    names = [p.video_name() for p in plan.items]
    assert len(set(names)) == len(names)
    for p, name in zip(plan.items, names):
        assert re.fullmatch(rf"[a-z0-9-]+_s{p.item.seed}_{p.item.id[:6]}\.mp4", name), name
    assert names[0].startswith("a-red-fox-trots-through-fresh-snow-at-dawn_s10_")


def test_slug_is_cut_at_a_word_boundary():
    slug = slugify("A lighthouse keeper climbs the spiral staircase at midnight carrying a lantern")
    assert slug == "a-lighthouse-keeper-climbs-the-spiral-staircase"
    assert len(slugify("x" * 100)) == 48  # one long word: cut where it must be


def test_conditioning_set_name_is_in_the_file_name(smoke_cfg, tmp_path):
    cfg = dataclasses.replace(smoke_cfg, conditioning=[
        ConditioningCfg("Dusk Photo", [ImageCondCfg(str(tmp_path / "a.png"))])])
    p = build_plan(cfg, fake_pipeline(), 2).items[0]
    assert p.video_name() == f"a-red-fox-trots-through-fresh-snow-at-dawn_dusk-photo_s10_{p.item.id[:6]}.mp4"


def test_step_bar_never_overshoots():
    progress = RichProgress(Console(file=io.StringIO()))
    with progress:
        progress.start_run(4)
        progress.start_stage("stage1", 2, 0)
        progress.start_batch(2)
        progress.step(3, 2)  # a stage reporting one step more than its total
        task = next(t for t in progress.bar.tasks if t.id == progress.step_task)
        assert task.completed == 2 and task.total == 2


class Recorder(NullProgress):
    def __init__(self):
        self.total, self.done = None, 0

    def start_run(self, total_units):
        self.total = total_units

    def items_done(self, n):
        self.done += n


def test_overall_progress_counts_every_stage_and_run_log_has_batch_lines(smoke_cfg, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ltxmlx.runner.runner")
    stages = fake_pipeline()
    rd = RunDir(tmp_path)
    rec = Recorder()
    Runner(stages, build_plan(smoke_cfg, stages, 2), rd, StageCache(rd.default_cache), progress=rec).run()
    # 2 text encodings (one per prompt) + 4 items x 3 later stages
    assert rec.total == rec.done == 2 + 4 * 3
    batch_lines = [r.message for r in caplog.records if "batch of" in r.message]
    assert len(batch_lines) == sum(len(s.batches) for s in stages)
