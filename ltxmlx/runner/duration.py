"""`resolution.frames: auto`: each prompt's clip length from the LTX-2.5 duration head, before planning.

The text stage runs first for every unique prompt (its outputs go to the stage cache under the text
stage's own key, which does not depend on the clip length, so the run that follows finds them cached);
the duration head then reads the positive video and audio contexts (the connector outputs, as the
official predictor does) and the frame counts become part of each item, its shapes and its stage keys.
This is an evaluation point like the runner.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import mlx.core as mx

from ltxmlx.loader import build
from ltxmlx.model.duration_head.predict import predict_seconds, seconds_to_num_frames
from ltxmlx.pipelines.api import RenderItem, Stage
from ltxmlx.runner.render import run_stage
from ltxmlx.runner.stage_cache import StageCache

log = logging.getLogger(__name__)


def predict_frames(prompts: Sequence[str], negative: str, text_stage: Stage, cache: StageCache,
                   text_key, duration_head: str, fps: float, dtype: mx.Dtype) -> dict[str, int]:
    """{prompt: 8k+1 frames}; text_key(item) is the text stage's cache key of an item."""
    items = [RenderItem(f"duration-{i}", p, negative, 0) for i, p in enumerate(dict.fromkeys(prompts))]
    contexts: dict[str, dict[str, mx.array]] = {}
    todo = []
    for item in items:
        key = text_key(item)
        if cache.has(text_stage.name, key):
            contexts[item.prompt] = cache.load(text_stage.name, key)
        else:
            todo.append(item)
    if todo:
        with text_stage:
            for item, out in zip(todo, run_stage(text_stage, todo, [{} for _ in todo])):
                cache.save(text_stage.name, text_key(item), out, {"item_id": item.id, "prompt": item.prompt})
                contexts[item.prompt] = out
    head = build("duration_head", duration_head, dtype=dtype)
    frames = {}
    for prompt, ctx in contexts.items():
        seconds = predict_seconds(head, ctx["context.video"].astype(dtype), ctx["context.audio"].astype(dtype))
        mx.eval(seconds)
        frames[prompt] = seconds_to_num_frames(float(seconds[0].item()), fps)
        log.info("duration head: %.2f s -> %d frames at %.2f fps for %r", float(seconds[0].item()),
                 frames[prompt], fps, prompt[:60])
    return frames
