"""mp4 writing (H.264 + AAC in one ffmpeg process) verified by reading the file back."""

from __future__ import annotations

import numpy as np
import pytest

from ltxmlx.errors import ShapeError
from ltxmlx.media.contact_sheet import SheetCell, save_thumbnail, write_contact_sheet
from ltxmlx.media.probe import decode_audio, decode_video, probe
from ltxmlx.media.video import MediaError, fit_audio, write_mp4


def clip(frames=25, h=64, w=96):
    x = np.linspace(0, 255, w, dtype=np.float32)[None, None, :, None]
    t = np.arange(frames, dtype=np.float32)[:, None, None, None] * 4
    return np.broadcast_to((x + t) % 256, (frames, h, w, 3)).astype(np.uint8)


def chirp(seconds, rate, channels=2):
    t = np.arange(int(seconds * rate)) / rate
    sig = 0.4 * np.sin(2 * np.pi * (200 + 400 * t) * t)
    return np.stack([sig, -sig][:channels]).astype(np.float32)


META = {"prompt": 'say "hi"; a=b #3 \\ ' + "long " * 100, "seed": 7}  # longer than ffmpeg -i prints


def test_mp4_round_trip_video_audio_and_metadata(tmp_path):
    video, rate = clip(), 24000
    audio = chirp(25 / 24 + 0.3, rate)  # longer than the video: trimmed to its duration
    path = write_mp4(tmp_path / "a.mp4", video, 24.0, audio, rate, metadata=META)
    info = probe(path)
    assert (info.video_codec, info.pix_fmt, info.width, info.height, info.fps) == ("h264", "yuv420p", 96, 64, 24.0)
    assert (info.audio_codec, info.sample_rate, info.channels) == ("aac", rate, "stereo")
    assert abs(info.duration - 25 / 24) < 0.03 and info.metadata() == META
    frames = decode_video(path)
    assert frames.shape == video.shape and np.abs(frames.astype(int) - video).mean() < 4
    back = decode_audio(path)
    n = int(25 / 24 * rate)
    assert abs(back.shape[0] - n) < 1100  # AAC frames are 1024 samples
    ref = audio[0, :n]
    got = back[:n, 0]
    corr = np.dot(ref, got) / (np.linalg.norm(ref) * np.linalg.norm(got))
    assert corr > 0.98 and not list(tmp_path.glob(".*partial*"))


def test_short_audio_is_padded_to_video_length():
    assert fit_audio(np.ones((2, 100), np.float32), 24, 24.0, 1000).shape == (2, 1000)
    assert fit_audio(np.ones((1, 5000), np.float32), 24, 24.0, 1000).shape == (1, 1000)


def test_failures_leave_no_video(tmp_path):
    with pytest.raises(ShapeError, match="even"):
        write_mp4(tmp_path / "odd.mp4", clip(h=63), 24.0)
    with pytest.raises(ShapeError, match="uint8"):
        write_mp4(tmp_path / "f.mp4", clip().astype(np.float32), 24.0)
    with pytest.raises(MediaError):
        write_mp4(tmp_path / "missing-dir" / "bad.mp4", clip(), 24.0)  # ffmpeg cannot open its output
    assert list(tmp_path.iterdir()) == []


def test_contact_sheet_grid(tmp_path):
    cells = []
    for r, prompt in enumerate(["first prompt", "second prompt"]):
        for s in range(3):
            thumb = save_thumbnail(clip(frames=9), tmp_path / f"t{r}{s}.png")
            cells.append(SheetCell(prompt, f"seed {s}", thumb))
    from PIL import Image
    sheet = Image.open(write_contact_sheet(cells, tmp_path / "sheet.png"))
    thumb_w = Image.open(cells[0].thumbnail).width
    assert sheet.width >= 3 * thumb_w and sheet.height >= 2 * 96
