"""Shared page frame: inline style and script, so a page needs nothing but the files next to it."""

from __future__ import annotations

import os
import uuid
from html import escape
from pathlib import Path

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.2em;background:#fafafa;color:#222}
h1{font-size:1.3em;margin:0 0 .3em} h2{font-size:1.1em}
table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:4px 6px;vertical-align:top;background:#fff}
th{background:#f0f0f0;text-align:left} .prompt{max-width:18em}
video{width:256px;max-width:100%;display:block;background:#000}
.meta{font-size:12px;color:#555} .missing{color:#a00;font-weight:bold} .cached{color:#06c}
.bar{margin:.6em 0} .bar input,.bar select{margin-right:1em}
.hidden{display:none} dl{display:grid;grid-template-columns:max-content auto;gap:0 1em;font-size:13px}
"""


# Counts players whose metadata loaded (body data-loaded) and reports a broken video on the console.
_VIDEO_JS = """
let loaded=0;
document.querySelectorAll('video').forEach(v=>{
  v.addEventListener('loadedmetadata',()=>{loaded++;document.body.dataset.loaded=String(loaded);});
  v.addEventListener('error',()=>console.error('video failed to load: '+v.getAttribute('src')));
});
document.body.dataset.videos=String(document.querySelectorAll('video').length);
"""


def page(title: str, body: str, script: str = "") -> str:
    script = _VIDEO_JS + script
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width'><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n{body}\n"
            f"<script>{script}</script></body></html>\n")


def definition_list(pairs: dict[str, str]) -> str:
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in pairs.items()) + "</dl>"


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def write_text_atomic(path: Path, text: str) -> None:
    """Readers (a browser reloading the page) never see a half-written file."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def player(src: str, poster: str | None) -> str:
    """An HTML player for an item's output: <audio> for an audio-only item's wav, else <video>."""
    if src.endswith(".wav"):
        return f"<audio controls preload='metadata' src='{escape(src, quote=True)}'></audio>"
    poster_attr = f" poster='{poster}'" if poster else ""
    return f"<video controls preload='metadata'{poster_attr} src='{escape(src, quote=True)}'></video>"
