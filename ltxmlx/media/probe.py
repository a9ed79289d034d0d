"""Read an mp4 back with the bundled ffmpeg (no ffprobe ships with imageio-ffmpeg)."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ltxmlx.media.video import MediaError, ffmpeg_exe

_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+\.\d+)")
_VIDEO = re.compile(r"Stream #\S+.*Video: (\w+).*?, (\w+)\(?.*?, (\d+)x(\d+).*?, ([\d.]+) fps")
_AUDIO = re.compile(r"Stream #\S+.*Audio: (\w+).*?, (\d+) Hz, (\w+)")
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


@dataclass(frozen=True)
class MediaInfo:
    duration: float
    video_codec: str | None
    pix_fmt: str | None
    width: int
    height: int
    fps: float
    audio_codec: str | None
    sample_rate: int
    channels: str | None
    comment: str | None

    def metadata(self) -> dict:
        return json.loads(self.comment) if self.comment else {}


def probe(path: str | Path) -> MediaInfo:
    """Streams and duration of a media file, parsed from `ffmpeg -i`."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    d = _DURATION.search(out)
    if not d:
        raise MediaError(f"{path}: not a readable media file: {out.strip()[-300:]}")
    v, a = _VIDEO.search(out), _AUDIO.search(out)
    return MediaInfo(
        duration=int(d[1]) * 3600 + int(d[2]) * 60 + float(d[3]),
        video_codec=v[1] if v else None, pix_fmt=v[2] if v else None,
        width=int(v[3]) if v else 0, height=int(v[4]) if v else 0, fps=float(v[5]) if v else 0.0,
        audio_codec=a[1] if a else None, sample_rate=int(a[2]) if a else 0, channels=a[3] if a else None,
        comment=read_tags(path).get("comment"),
    )


def read_tags(path: str | Path) -> dict[str, str]:
    """Container tags in full (`ffmpeg -i` truncates long values; the ffmetadata muxer does not)."""
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "ffmetadata", "-"],
                         capture_output=True, text=True).stdout
    tags, lines = {}, out.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        while line.endswith("\\") and not line.endswith("\\\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + "\n" + lines[i]  # an escaped newline continues the value
        i += 1
        if line.startswith((";", "[")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        tags[key] = _UNESCAPE.sub(r"\1", value)
    return tags


def decode_video(path: str | Path) -> np.ndarray:
    """All frames as uint8 (F, H, W, 3)."""
    info = probe(path)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, info.height, info.width, 3)


def decode_audio(path: str | Path) -> np.ndarray:
    """The audio as float32 (samples, channels) at the file's own rate."""
    info = probe(path)
    n_ch = 2 if info.channels == "stereo" else 1
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "f32le", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32).reshape(-1, n_ch)
