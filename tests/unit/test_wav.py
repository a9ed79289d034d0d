"""PCM16 wav output of audio-only items: rate, channels, length and sample values survive a read back."""

from __future__ import annotations

import numpy as np
import pytest

from ltxmlx.errors import ShapeError
from ltxmlx.media.audio import write_wav
from ltxmlx.media.probe import decode_audio, probe


def test_wav_round_trips_through_ffmpeg(tmp_path):
    t = np.arange(12000) / 24000
    audio = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), -0.25 * np.ones_like(t)]).astype(np.float32)
    audio[0, :3] = [1.5, -1.5, 0.0]  # out of range: clipped, not wrapped
    path = write_wav(tmp_path / "out.wav", audio, 24000)
    info = probe(path)
    assert (info.audio_codec, info.sample_rate, info.video_codec) == ("pcm_s16le", 24000, None)
    back = decode_audio(path).T
    assert back.shape == audio.shape
    expected = np.clip(audio, -1.0, 1.0)
    assert np.abs(back - expected).max() < 1.5 / 32767
    assert not list(tmp_path.glob(".*partial*"))  # written under a temporary name, then renamed


@pytest.mark.parametrize("shape", [(2,), (3, 10), (2, 0)])
def test_wav_refuses_what_is_not_1_or_2_channel_audio(tmp_path, shape):
    with pytest.raises(ShapeError):
        write_wav(tmp_path / "bad.wav", np.zeros(shape, np.float32), 24000)
    assert not (tmp_path / "bad.wav").exists()


def test_waveform_picture_shows_loud_and_quiet_parts():
    from ltxmlx.media.audio import waveform_picture

    t = np.arange(24000) / 24000
    audio = np.stack([np.sin(2 * np.pi * 200 * t) * np.where(t < 0.5, 0.9, 0.05)] * 2).astype(np.float32)
    picture = waveform_picture(audio, 64, 100)
    assert picture.shape == (64, 100, 3) and picture.dtype == np.uint8
    lit = (picture == (120, 200, 255)).all(axis=-1).sum(axis=0)  # drawn pixels per column
    assert lit[:50].min() > 50 and lit[50:].max() < 8
