"""Thumbnails per item and a contact sheet PNG: one row per prompt, one cell per seed/conditioning.

Each cell shows the first, middle and last frame of a video, labelled with its seed and item id;
each row starts with the prompt's first words. Thumbnails are saved per item as soon as its video
is written, so a resumed run can still draw the sheet for items finished before the restart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

THUMB_HEIGHT = 96
LABEL_HEIGHT = 14
ROW_HEADER = 16
PAD = 4


def save_thumbnail(video: np.ndarray, path: str | Path) -> Path:
    """First, middle and last frame of uint8 (F, H, W, 3) side by side, THUMB_HEIGHT px high."""
    f = video.shape[0]
    picks = [video[i] for i in sorted({0, f // 2, f - 1})]
    h, w = picks[0].shape[:2]
    tw = max(1, round(w * THUMB_HEIGHT / h))
    tiles = [Image.fromarray(p).resize((tw, THUMB_HEIGHT), Image.Resampling.BILINEAR) for p in picks]
    strip = Image.new("RGB", (tw * len(tiles), THUMB_HEIGHT))
    for i, t in enumerate(tiles):
        strip.paste(t, (i * tw, 0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.partial.png")
    strip.save(tmp)
    os.replace(tmp, path)  # replaces a link at `path` rather than writing through it
    return path


@dataclass(frozen=True)
class SheetCell:
    row: str  # prompt
    label: str  # e.g. "seed 10  3f2a9c01b7de"
    thumbnail: Path


def write_contact_sheet(cells: list[SheetCell], path: str | Path) -> Path:
    """Grid PNG of `cells`, grouped into rows by `row` in first-seen order."""
    if not cells:
        raise ValueError("contact sheet: no finished items to show")
    rows: dict[str, list[SheetCell]] = {}
    for c in cells:
        rows.setdefault(c.row, []).append(c)
    thumbs = {c.thumbnail: Image.open(c.thumbnail).convert("RGB") for c in cells}
    cell_w = max(t.width for t in thumbs.values()) + PAD
    cell_h = THUMB_HEIGHT + LABEL_HEIGHT + PAD
    n_cols = max(len(r) for r in rows.values())
    sheet = Image.new("RGB", (n_cols * cell_w + PAD, len(rows) * (cell_h + ROW_HEADER) + PAD), "white")
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default()
    y = PAD
    for prompt, row in rows.items():
        draw.text((PAD, y), prompt[: max(20, n_cols * cell_w // 7)], fill="black", font=font)
        y += ROW_HEADER
        for j, cell in enumerate(row):
            x = PAD + j * cell_w
            sheet.paste(thumbs[cell.thumbnail], (x, y))
            draw.text((x, y + THUMB_HEIGHT + 1), cell.label, fill="black", font=font)
        y += cell_h
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.partial.png")
    sheet.save(tmp)
    tmp.replace(path)
    return path
