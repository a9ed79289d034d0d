"""The render plan: items = prompts x seeds x conditioning sets, stable ids, a content key per stage.

Item id: the first 12 hex digits of sha256 over the item's prompt, negative prompt, seed and
image conditions, so ids survive reordering or extending the prompt list.
Stage key: sha256(canonical JSON of `stage.key_inputs(item)` + the previous stage's key), so changing
a later stage's settings keeps the earlier keys (and their cached outputs).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from ltxmlx.config.naming import slugify
from ltxmlx.config.schema import RunConfig
from ltxmlx.config.validate import check_prompts, check_seeds
from ltxmlx.errors import ConfigError
from ltxmlx.pipelines.api import AudioInput, ImageCondition, ReferenceVideo, RenderItem, SourceVideo, Stage

PLAN_VERSION = 1
NO_CONDITIONING = "none"  # the conditioning name of items without image conditions


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _resolve_relative(path: str, base_dirs: Sequence[Path]) -> Path:
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    for base in base_dirs:
        if (base / p).exists():
            return base / p
    return p


def load_prompts(cfg: RunConfig, search_dirs: Sequence[Path] = ()) -> list[str]:
    """Inline prompts followed by those of `prompt_file` (relative: cwd first, then `search_dirs`)."""
    prompts = list(cfg.prompts)
    if cfg.prompt_file:
        path = _resolve_relative(cfg.prompt_file, [Path.cwd(), *search_dirs])
        if not path.is_file():
            raise ConfigError("prompt_file", cfg.prompt_file, "an existing text file, one prompt per line")
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError("prompt_file", cfg.prompt_file,
                              f"a UTF-8 text file, one prompt per line (byte {e.start} is not UTF-8)") from None
        if "\x00" in text:
            raise ConfigError("prompt_file", cfg.prompt_file, "a text file, one prompt per line (it holds NUL bytes)")
        for line in text.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                prompts.append(line.strip())
    check_prompts(prompts, "prompts" if not cfg.prompt_file else f"prompts (incl. {cfg.prompt_file})")
    dupes = sorted({p for p in prompts if prompts.count(p) > 1})
    if dupes:
        raise ConfigError("prompts", dupes[0], "each prompt once (it is listed twice)")
    return prompts


def expand_seeds(cfg: RunConfig) -> list[int]:
    s = cfg.seeds
    has_range = s.start is not None or s.count is not None
    if s.values and has_range:
        raise ConfigError("seeds", {"values": s.values, "start": s.start, "count": s.count},
                          "either seeds.values or seeds.start + seeds.count, not both")
    if has_range:
        if s.start is None or s.count is None or s.count < 1:
            raise ConfigError("seeds", {"start": s.start, "count": s.count},
                              "both seeds.start and seeds.count >= 1")
        seeds = list(range(s.start, s.start + s.count))
    else:
        seeds = list(s.values)
    check_seeds(seeds)
    return seeds


@dataclass(frozen=True)
class PlannedItem:
    item: RenderItem
    slug: str
    prompt_index: int
    conditioning: str
    keys: dict[str, str] = field(default_factory=dict)  # stage name -> content key

    def video_name(self) -> str:
        """`<prompt slug>[_<conditioning set>]_s<seed>_<id6>.mp4`: what, which seed, and unique."""
        cond = f"_{slugify(self.conditioning, 24)}" if self.conditioning != NO_CONDITIONING else ""
        return f"{self.slug}{cond}_s{self.item.seed}_{self.item.id[:6]}.mp4"


@dataclass
class Plan:
    job_name: str
    stages: list[str]
    items: list[PlannedItem]
    batch_size: int

    def batches(self) -> list[list[str]]:
        """Item ids grouped by shape signature, chunked to `batch_size` (what one stage call gets)."""
        groups: dict[tuple, list[str]] = {}
        for p in self.items:
            groups.setdefault(shape_signature(p.item), []).append(p.item.id)
        out = []
        for ids in groups.values():
            out += [ids[i:i + self.batch_size] for i in range(0, len(ids), self.batch_size)]
        return out

    def to_json(self) -> dict:
        return {
            "version": PLAN_VERSION,
            "job_name": self.job_name,
            "stages": self.stages,
            "batch_size": self.batch_size,
            "items": [
                {"id": p.item.id, "prompt": p.item.prompt, "negative_prompt": p.item.negative_prompt,
                 "seed": p.item.seed, "conditioning": p.conditioning,
                 "images": [asdict(i) for i in p.item.images],
                 "references": [asdict(r) for r in p.item.references],
                 "audio": None if p.item.audio is None else asdict(p.item.audio),
                 "source": None if p.item.source is None else asdict(p.item.source),
                 "video": p.video_name(), "keys": p.keys}
                for p in self.items
            ],
            "batches": self.batches(),
        }


def shape_signature(item: RenderItem) -> tuple:
    """Items may share a stage call only if their latents have equal shapes (`RenderItem.shape_signature`)."""
    return item.shape_signature()


def make_item(prompt: str, negative: str, seed: int, images: tuple[ImageCondition, ...],
              references: tuple[ReferenceVideo, ...] = (), audio: AudioInput | None = None,
              source: SourceVideo | None = None, num_frames: int | None = None) -> RenderItem:
    ident = {"prompt": prompt, "negative_prompt": negative, "seed": seed, "images": [asdict(i) for i in images]}
    # Absent when unused, so the ids of image-only items stay as they were.
    if references:
        ident["references"] = [asdict(r) for r in references]
    if audio is not None:
        ident["audio"] = asdict(audio)
    if source is not None:
        ident["source"] = asdict(source)
    return RenderItem(sha256_hex(canonical_json(ident))[:12], prompt, negative, seed, images, references, audio,
                      source, num_frames)


def stage_keys(stages: Sequence[Stage], item: RenderItem) -> dict[str, str]:
    keys, prev = {}, ""
    for stage in stages:
        payload = canonical_json(stage.key_inputs(item))
        prev = sha256_hex(payload + prev)
        keys[stage.name] = prev
    return keys


def build_plan(cfg: RunConfig, stages: Sequence[Stage], batch_size: int,
               search_dirs: Sequence[Path] = (), frames: dict[str, int] | None = None) -> Plan:
    """Expand the job into items (prompt-major, then seed, then conditioning set) with stage keys.

    frames: each prompt's clip length when the job's is 'auto' (from the duration head)."""
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise ConfigError("pipeline", names, "stages with distinct names")
    prompts, seeds = load_prompts(cfg, search_dirs), expand_seeds(cfg)
    cond_sets = [(c.name, tuple(ImageCondition(i.path, i.frame, i.strength) for i in c.images),
                  tuple(ReferenceVideo(r.path, r.strength, r.mask) for r in c.references),
                  None if c.audio is None else AudioInput(c.audio.path, c.audio.start_time, c.audio.max_duration),
                  None if c.source is None else SourceVideo(c.source.path, c.source.start_time, c.source.end_time))
                 for c in cfg.conditioning] or [(NO_CONDITIONING, (), (), None, None)]
    items = []
    for pi, prompt in enumerate(prompts):
        for seed in seeds:
            for cname, images, references, audio, source in cond_sets:
                item = make_item(prompt, cfg.negative_prompt, seed, images, references, audio, source,
                                 (frames or {}).get(prompt))
                items.append(PlannedItem(item, slugify(prompt), pi, cname, stage_keys(stages, item)))
    return Plan(cfg.job_name, names, items, batch_size)
