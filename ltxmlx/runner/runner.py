"""Drive a plan through the pipeline's stages; the only place (besides the loader) calling `mx.eval`.

Stage-major (default): every pending item goes through stage 1 in batches, then stage 2, ...; a
stage's models are built (entered) only if some item needs it and freed after it. Item-major: one
item at a time through all stages (first videos early; every model stays resident once built).
Every non-final stage output is cached per item (`StageCache`), so a rerun resumes at the first
missing stage. The final stage returns {"video", "audio"}, which becomes the mp4 ({"audio"} alone, from
an audio-only pipeline: a wav); items whose keys are identical in a stage (e.g. the text stage of one
prompt under several seeds) are computed once.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import mlx.core as mx
import numpy as np

from ltxmlx.config.plan import Plan, PlannedItem, shape_signature
from ltxmlx.errors import RunInterrupted, ShapeError
from ltxmlx.media.contact_sheet import SheetCell, save_thumbnail, write_contact_sheet
from ltxmlx.media.audio import waveform_picture, write_wav
from ltxmlx.media.video import write_mp4
from ltxmlx.pipelines.api import Stage, StageContractError
from ltxmlx.runner.render import run_stage
from ltxmlx.runner import memory
from ltxmlx.runner.manifest import Manifest
from ltxmlx.runner.outputs import RunDir
from ltxmlx.runner.ownership import RunLock
from ltxmlx.runner.progress import NullProgress
from ltxmlx.runner.stage_cache import StageCache
from ltxmlx.runner.status import write_status

log = logging.getLogger(__name__)


@dataclass
class StageStats:
    stage: str
    computed: int = 0
    cached: int = 0
    seconds: float = 0.0
    peak_bytes: int = 0


@dataclass
class RunResult:
    stats: list[StageStats]
    finished: list[dict]  # manifest entries of every finished item, in plan order
    finished_before: int  # of those, how many an earlier run had finished
    computed_keys: dict[str, list[str]] = field(default_factory=dict)  # stage -> keys run this time


class Runner:
    def __init__(self, stages: Sequence[Stage], plan: Plan, run_dir: RunDir, cache: StageCache, *,
                 order: str = "stage_major", crf: int = 19, contact_sheet: bool = True,
                 video_metadata: Callable[[PlannedItem], dict] | None = None, progress=None,
                 should_stop: Callable[[], bool] | None = None, shared: bool = False,
                 still_frame_mp4: bool = False):
        """shared: a fleet worker rendering its share of a run directory that its coordinator owns
        (holds the lock and keeps status.json): this runner takes no lock and writes no status.
        still_frame_mp4: an audio-only item also gets an mp4 of its waveform picture with its audio."""
        self.stages, self.plan, self.run_dir, self.cache = list(stages), plan, run_dir, cache
        self.should_stop = should_stop or (lambda: False)
        self.shared, self.still_frame_mp4 = shared, still_frame_mp4
        self.order, self.crf, self.want_sheet = order, crf, contact_sheet
        self.video_metadata = video_metadata or (lambda p: {"id": p.item.id, "seed": p.item.seed})
        self.progress = progress or NullProgress()
        self.manifest = Manifest(run_dir.manifest)
        self.stats = {s.name: StageStats(s.name) for s in self.stages}
        self.timings: dict[str, dict[str, float]] = {p.item.id: {} for p in plan.items}
        self.peaks: dict[str, int] = {p.item.id: 0 for p in plan.items}
        self.computed_keys: dict[str, list[str]] = {s.name: [] for s in self.stages}
        self.starts: dict[str, int] = {}  # item id -> index of the first stage it needs
        self.n_finished = 0

    def _status(self, state: str, finished: int, total: int, reason: str = "") -> None:
        if not self.shared:
            write_status(self.run_dir.root, state, finished, total, reason)

    # ---- public -------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Render every pending item, holding the run directory's lock and keeping `status.json` current.

        Raises RunInterrupted (after the batch in flight is saved) when `should_stop()` turns True.
        """
        self.run_dir.prepare()
        total = len(self.plan.items)
        with contextlib.nullcontext() if self.shared else RunLock(self.run_dir.root):
            try:
                result = self._run()
            except RunInterrupted as e:
                self._status( "interrupted", e.finished, e.total)
                log.info("interrupted: %d of %d items finished", e.finished, e.total)
                raise
            except KeyboardInterrupt:
                self._status( "interrupted", self.n_finished, total, "stopped at once")
                log.info("interrupted at once: %d of %d items finished", self.n_finished, total)
                raise
            except Exception as e:
                self._status( "failed", self.n_finished, total, f"{type(e).__name__}: {e}")
                raise
            self._status( "finished", len(result.finished), total)
            return result

    def _run(self) -> RunResult:
        self.cache.clean_partials()
        expected = {p.item.id: p.keys for p in self.plan.items}
        done_before = self.manifest.finished(expected, self.run_dir.root)
        pending = [p for p in self.plan.items if p.item.id not in done_before]
        self.n_finished = len(done_before)
        self._status( "running", self.n_finished, len(self.plan.items))
        self.progress.start_run(self._units(pending))
        log.info("%d items, %d finished earlier, %d to render (%s)", len(self.plan.items),
                 len(done_before), len(pending), self.order)
        if self.order == "item_major":
            with contextlib.ExitStack() as resident:
                entered: set[str] = set()

                def enter(stage: Stage) -> None:
                    if stage.name not in entered:
                        resident.enter_context(stage)
                        entered.add(stage.name)

                for p in pending:
                    for i in range(len(self.stages)):
                        self._run_stage(i, [p], enter, leave=lambda stage: None)
        else:
            for i in range(len(self.stages)):
                self._run_stage(i, pending, enter=lambda stage: stage.__enter__(),
                                leave=lambda stage: stage.__exit__(None, None, None))
        finished = self.manifest.finished(expected, self.run_dir.root)
        entries = [finished[p.item.id] for p in self.plan.items if p.item.id in finished]
        pictures = [e for e in entries if "thumbnail" in e]  # audio-only items have no picture
        if self.want_sheet and pictures:
            cells = [SheetCell(e["prompt"], f"seed {e['seed']} {e['id'][:6]}", self.run_dir.root / e["thumbnail"])
                     for e in pictures]
            write_contact_sheet(cells, self.run_dir.contact_sheet)
        return RunResult(list(self.stats.values()), entries, len(done_before), self.computed_keys)

    # ---- one stage ----------------------------------------------------------------------------
    def _run_stage(self, index: int, items: list[PlannedItem], enter, leave) -> None:
        stage = self.stages[index]
        final = index == len(self.stages) - 1
        by_key: dict[str, PlannedItem] = {}
        for p in items:
            if index >= self._start(p):
                by_key.setdefault(p.keys[stage.name], p)
        todo = list(by_key.values())
        n_cached = len({p.keys[stage.name] for p in items}) - len(todo)
        self.stats[stage.name].cached += n_cached
        if not todo:
            log.info("stage %s: all %d outputs cached", stage.name, n_cached)
            return
        self.progress.start_stage(stage.name, len(todo), n_cached)
        log.info("stage %s: %d to compute, %d cached", stage.name, len(todo), n_cached)
        enter(stage)
        try:
            for batch in self._batches(index, todo):
                inputs = [self._inputs(index, p) for p in batch]
                outputs, seconds, peak = self._call(stage, batch, inputs)
                for p, out in zip(batch, outputs):
                    self.timings[p.item.id][stage.name] = seconds / len(batch)
                    self.peaks[p.item.id] = max(self.peaks[p.item.id], peak)
                    if final:
                        self._finish_item(stage, p, out)
                    else:
                        meta = {"item_id": p.item.id, "seed": p.item.seed, "prompt": p.item.prompt}
                        self.cache.save(stage.name, p.keys[stage.name], out, meta)
                    self.computed_keys[stage.name].append(p.keys[stage.name])
                s = self.stats[stage.name]
                s.computed += len(batch)
                s.seconds += seconds
                s.peak_bytes = max(s.peak_bytes, peak)
                self.progress.items_done(len(batch))
                if final:
                    self.n_finished += len(batch)
                    self._status( "running", self.n_finished, len(self.plan.items))
                log.info("stage %s: batch of %d done in %.1f s (%s)", stage.name, len(batch), seconds,
                         ", ".join(p.item.id for p in batch))
                if self.should_stop():
                    raise RunInterrupted(self.n_finished, len(self.plan.items))
        finally:
            leave(stage)
            self.progress.end_stage()

    def _first_needed(self, p: PlannedItem) -> int:
        """The stage after the latest intact cached output of `p` (0 when none): every stage from
        there on runs, so whatever follows a missing or unusable file is recomputed too."""
        for i in range(len(self.stages) - 2, -1, -1):
            if self.cache.has(self.stages[i].name, p.keys[self.stages[i].name]):
                return i + 1
        return 0

    def _start(self, p: PlannedItem) -> int:
        # Decided when the item first reaches a stage (item-major: after earlier items filled the cache).
        if p.item.id not in self.starts:
            self.starts[p.item.id] = self._first_needed(p)
        return self.starts[p.item.id]

    def _units(self, pending: list[PlannedItem]) -> int:
        """Stage outputs this run will compute (for the overall progress)."""
        first = {p.item.id: self._first_needed(p) for p in pending}
        return sum(len({p.keys[s.name] for p in pending if i >= first[p.item.id]})
                   for i, s in enumerate(self.stages))

    def _inputs(self, index: int, p: PlannedItem) -> dict[str, mx.array]:
        if index == 0:
            return {}
        prev = self.stages[index - 1].name
        return self.cache.load(prev, p.keys[prev])

    def _batches(self, index: int, todo: list[PlannedItem]) -> list[list[PlannedItem]]:
        """Chunks of at most batch_size items with equal latent shapes (inputs of this stage)."""
        groups: dict[tuple, list[PlannedItem]] = {}
        for p in todo:
            sig = shape_signature(p.item)
            if index > 0:
                prev = self.stages[index - 1].name
                meta = self.cache.path(prev, p.keys[prev])
                shapes = mx.load(str(meta))  # lazy: reads headers, not tensor data, until evaluated
                sig = (sig, tuple(sorted((k, tuple(v.shape), str(v.dtype)) for k, v in shapes.items())))
            groups.setdefault(sig, []).append(p)
        bs = self.plan.batch_size
        return [g[i:i + bs] for g in groups.values() for i in range(0, len(g), bs)]

    def _call(self, stage: Stage, batch: list[PlannedItem], inputs: list[dict]) -> tuple[list[dict], float, int]:
        memory.reset_peak()
        t0 = time.perf_counter()
        self.progress.start_batch(len(batch))
        outputs = run_stage(stage, [p.item for p in batch], inputs,
                            on_event=lambda event: self.progress.step(event.step, event.total))
        return outputs, time.perf_counter() - t0, memory.peak_bytes()

    def _finish_item(self, stage: Stage, p: PlannedItem, out: dict) -> None:
        if "audio" not in out:
            raise StageContractError(f"final stage {stage.name!r} must return 'audio' (and 'video' unless the "
                                     f"pipeline is audio-only), got {sorted(out)}")
        audio = np.array(out["audio"].astype(mx.float32))
        if "video" in out:
            files = self._write_video(stage, p, np.array(out["video"]), audio)
        else:  # an audio-only pipeline: a wav, no thumbnail
            rel_audio = f"audio/{Path(p.video_name()).stem}.wav"
            (self.run_dir.root / "audio").mkdir(exist_ok=True)
            write_wav(self.run_dir.root / rel_audio, audio, stage.audio_sample_rate)
            files = {"audio": rel_audio, "duration_s": round(audio.shape[1] / stage.audio_sample_rate, 6)}
            if self.still_frame_mp4:
                still = waveform_picture(audio)[None]
                frames = max(1, round(files["duration_s"] * stage.fps))
                files.update(self._write_video(stage, p, np.repeat(still, frames, axis=0), audio))
        # Stages may note what an item's result depends on beyond its seed (e.g. a sampler's own seeds).
        notes = {s.name: s.item_notes(p.item) for s in self.stages if callable(getattr(s, "item_notes", None))}
        notes = {name: n for name, n in notes.items() if n}
        self.manifest.append({
            "id": p.item.id, "prompt": p.item.prompt, "negative_prompt": p.item.negative_prompt,
            "seed": p.item.seed, "conditioning": p.conditioning, **files,
            "keys": p.keys, "timings_s": {k: round(v, 4) for k, v in self.timings[p.item.id].items()},
            "cached_stages": [s.name for s in self.stages if s.name not in self.timings[p.item.id]],
            "peak_memory_bytes": self.peaks[p.item.id],
            "fps": stage.fps, "audio_sample_rate": stage.audio_sample_rate,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **({"notes": notes} if notes else {}),
        })

    def _write_video(self, stage: Stage, p: PlannedItem, video: np.ndarray, audio: np.ndarray) -> dict:
        """The item's mp4 and thumbnail; their manifest fields."""
        if video.dtype != np.uint8:
            raise ShapeError(f"{stage.name}: video must be uint8 (F, H, W, 3), got {video.dtype} {video.shape}")
        rel_video = f"videos/{p.video_name()}"
        write_mp4(self.run_dir.root / rel_video, video, stage.fps, audio, stage.audio_sample_rate,
                  crf=self.crf, metadata=self.video_metadata(p))
        rel_thumb = f"thumbs/{p.item.id}.png"
        save_thumbnail(video, self.run_dir.root / rel_thumb)
        return {"video": rel_video, "thumbnail": rel_thumb, "frames": int(video.shape[0])}
