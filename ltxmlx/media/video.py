"""Write an mp4 (H.264 CRF, yuv420p, BT.709 tags; AAC at the vocoder rate) with one ffmpeg process.

Frames go to ffmpeg's stdin and float32 PCM to a second pipe written from a thread: ffmpeg reads the
two inputs interleaved, so writing them one after the other from one thread can deadlock. The file is
written under a temporary name and renamed when ffmpeg succeeded, so a killed run never leaves a
truncated video under the final name.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
from pathlib import Path

import numpy as np

from ltxmlx.errors import LtxmlxError, ShapeError

log = logging.getLogger(__name__)


class MediaError(LtxmlxError):
    """ffmpeg failed or is unavailable."""


def ffmpeg_exe() -> str:
    # imageio-ffmpeg ships a static ffmpeg with libx264 and the native AAC encoder.
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def fit_audio(audio: np.ndarray, n_frames: int, fps: float, sample_rate: int) -> np.ndarray:
    """Trim or zero-pad (channels, samples) audio to exactly the video's duration."""
    want = int(round(n_frames / fps * sample_rate))
    have = audio.shape[1]
    if have >= want:
        return audio[:, :want]
    return np.pad(audio, ((0, 0), (0, want - have)))


def write_mp4(path: str | Path, video: np.ndarray, fps: float, audio: np.ndarray | None = None,
              sample_rate: int | None = None, crf: int = 19, metadata: dict | None = None) -> Path:
    """Write `video` uint8 (F, H, W, 3) and optional `audio` float32 (channels, samples) at
    `sample_rate` to `path`; the audio is fitted to the video's duration. Returns the path."""
    video = np.ascontiguousarray(video)
    if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != np.uint8:
        raise ShapeError(f"video: expected uint8 (frames, height, width, 3), got {video.dtype} {video.shape}")
    f, h, w, _ = video.shape
    if h % 2 or w % 2:
        raise ShapeError(f"video: yuv420p needs even height and width, got {h}x{w}")
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps}", "-i", "pipe:0"]
    read_fd = write_fd = None
    if audio is not None:
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 2 or audio.shape[0] not in (1, 2) or not sample_rate:
            raise ShapeError(f"audio: expected float32 (1 or 2 channels, samples) and a sample rate, "
                             f"got {audio.shape} at {sample_rate}")
        audio = fit_audio(audio, f, fps, sample_rate)
        read_fd, write_fd = os.pipe()
        cmd += ["-f", "f32le", "-ar", str(sample_rate), "-ac", str(audio.shape[0]), "-i", f"pipe:{read_fd}"]
    cmd += ["-map", "0:v:0"] + (["-map", "1:a:0"] if audio is not None else [])
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"]
    if audio is not None:
        cmd += ["-c:a", "aac", "-b:a", "192k", "-ar", str(sample_rate)]
    if metadata:
        cmd += ["-metadata", f"comment={json.dumps(metadata, ensure_ascii=True, sort_keys=True)}"]
    cmd += ["-movflags", "+faststart", "-f", "mp4", str(tmp)]
    pass_fds = (read_fd,) if read_fd is not None else ()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=pass_fds)
    feeder, feed_error = None, []
    if read_fd is not None:
        os.close(read_fd)  # ffmpeg holds its own copy; closing ours lets it see EOF after the writer

        def feed() -> None:
            try:
                with os.fdopen(write_fd, "wb") as pipe:
                    pipe.write(np.ascontiguousarray(audio.T).tobytes())  # interleaved channels
            except BrokenPipeError as e:
                feed_error.append(e)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
    try:
        proc.stdin.write(video.tobytes())
        proc.stdin.close()
    except BrokenPipeError:
        pass  # ffmpeg exited early; its stderr below says why
    if feeder is not None:
        feeder.join()
    err = proc.stderr.read().decode("utf-8", "replace")
    if proc.wait() != 0 or feed_error:
        tmp.unlink(missing_ok=True)
        raise MediaError(f"ffmpeg failed writing {path.name}: {err.strip()[-500:]}")
    os.replace(tmp, path)
    log.info("wrote %s (%d frames %dx%d, audio %s)", path, f, w, h, None if audio is None else audio.shape)
    return path
