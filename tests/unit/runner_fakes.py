"""Small fake pipeline stages for the runner tests: seed-dependent arrays, call counting, no models."""

from __future__ import annotations

import json
import os
from pathlib import Path

import mlx.core as mx

from ltxmlx.pipelines.api import StepEvent


class FakeStage:
    """A latent stage: output = f(previous output, seed, its own setting). Logs calls to a file."""

    def __init__(self, name: str, setting: float = 1.0, steps: int = 3, log: Path | None = None,
                 per_seed: bool = True, kill_on_enter: bool = False):
        self.name, self.setting, self.steps, self.log = name, setting, steps, log
        self.per_seed, self.kill_on_enter = per_seed, kill_on_enter
        self.entered = 0
        self.batches: list[list[str]] = []

    def key_inputs(self, item) -> dict:
        key = {"stage": self.name, "setting": self.setting, "prompt": item.prompt}
        if self.per_seed:
            key["seed"] = item.seed
        return key

    def __enter__(self):
        if self.kill_on_enter:
            os.kill(os.getpid(), 9)
        self.entered += 1
        self._write({"event": "enter", "stage": self.name})
        return self

    def __exit__(self, *exc) -> None:
        self._write({"event": "exit", "stage": self.name})

    def _write(self, rec: dict) -> None:
        if self.log:
            with open(self.log, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def run(self, items, inputs):
        self.batches.append([it.id for it in items])
        self._write({"event": "run", "stage": self.name, "items": [it.id for it in items]})
        # One batched computation, like the real stages: each item's noise comes from its own seed and
        # the batch is stacked, so a runner that mixed up inputs or outputs within a batch shows.
        prev = mx.stack([inp.get("latent", mx.zeros((2, 4, 4))) for inp in inputs])
        noise = mx.stack([mx.random.normal((2, 4, 4), key=mx.random.key(it.seed if self.per_seed else len(it.prompt)))
                          for it in items])
        latents = prev * 0.5 + noise * self.setting
        outs = [{"latent": latents[i]} for i in range(len(items))]
        for s in range(self.steps):
            yield StepEvent(self.name, s, self.steps, [o["latent"] for o in outs])
        return outs


class FakeDecode(FakeStage):
    """Final stage: uint8 video (F, H, W, 3) and stereo audio from the latent."""

    fps = 24.0
    audio_sample_rate = 16000

    def __init__(self, frames: int = 9, size: int = 32, **kw):
        super().__init__("decode", **kw)
        self.frames, self.size = frames, size

    def run(self, items, inputs):
        self.batches.append([it.id for it in items])
        self._write({"event": "run", "stage": self.name, "items": [it.id for it in items]})
        outs = []
        for inp in inputs:
            lat = inp["latent"]
            level = (mx.tanh(mx.mean(lat)) * 100 + 128).astype(mx.uint8)
            video = mx.broadcast_to(level, (self.frames, self.size, self.size, 3))
            ramp = mx.arange(self.frames * self.size, dtype=mx.float32).reshape(self.frames, self.size, 1, 1)
            video = (video.astype(mx.float32) + ramp % 50).astype(mx.uint8)
            n = int(self.frames / self.fps * self.audio_sample_rate)
            t = mx.arange(n, dtype=mx.float32) / self.audio_sample_rate
            tone = 0.3 * mx.sin(2 * 3.14159 * (220 + 50 * mx.mean(lat)) * t)
            outs.append({"video": video, "audio": mx.stack([tone, tone])})
        yield StepEvent(self.name, 0, 1, outs)
        return outs


def fake_pipeline(log: Path | None = None, stage2_setting: float = 1.0, kill_stage: str | None = None):
    return [
        FakeStage("text", per_seed=False, steps=1, log=log, kill_on_enter=kill_stage == "text"),
        FakeStage("stage1", log=log, kill_on_enter=kill_stage == "stage1"),
        FakeStage("stage2", setting=stage2_setting, log=log, kill_on_enter=kill_stage == "stage2"),
        FakeDecode(log=log, kill_on_enter=kill_stage == "decode"),
    ]
