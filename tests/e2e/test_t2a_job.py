"""jobs/t2a.yaml end to end on the tiny model: a wav per item (no video), manifest, report, rerun, bad input."""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest
from PIL import Image

from ltxmlx.media.probe import decode_audio, probe
from tests.e2e.test_smoke import cli, env  # noqa: F401  (env is a fixture)


@pytest.fixture(scope="module")
def t2a_run(tmp_path_factory, env):
    run = tmp_path_factory.mktemp("t2a") / "run"
    proc = cli(["ltxmlx.run", "+job=t2a", f"hydra.run.dir={run}"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run


def entries(run) -> list[dict]:
    return [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]


def test_job_writes_a_wav_per_item_of_the_clip_length(t2a_run):
    plan = json.loads((t2a_run / "plan.json").read_text())
    manifest = entries(t2a_run)
    assert len(manifest) == len(plan["items"]) == 4  # 2 prompts x 2 seeds
    resolution = json.loads((t2a_run / "record.json").read_text())["config"]["resolution"]
    frames, fps = resolution["frames"], resolution["fps"]
    for e in manifest:
        assert "video" not in e and "thumbnail" not in e
        assert e["audio"].startswith("audio/") and e["audio"].endswith(".wav")
        with wave.open(str(t2a_run / e["audio"])) as w:
            rate, channels, width, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
        assert (rate, channels, width) == (e["audio_sample_rate"], 2, 2)
        assert abs(n / rate - frames / fps) < 0.005
        assert np.abs(decode_audio(t2a_run / e["audio"])).max() > 0.0  # not silence
        assert probe(t2a_run / e["audio"]).video_codec is None
    assert len({(t2a_run / e["audio"]).read_bytes() for e in manifest}) == 4  # each seed/prompt its own audio
    assert not list((t2a_run / "videos").iterdir()) and not list((t2a_run / "thumbs").iterdir())
    assert not (t2a_run / "contact_sheet.png").exists()  # nothing to show as pictures


def test_report_plays_the_audio(t2a_run):
    html = (t2a_run / "report.html").read_text()
    for e in entries(t2a_run):
        assert f"<audio controls preload='metadata' src='{e['audio']}'>" in html
    assert "not rendered" not in html and "<video" not in html


def test_rerun_finds_every_item_finished(t2a_run, env):
    stamps = {p: p.stat().st_mtime_ns for p in (t2a_run / "audio").iterdir()}
    proc = cli(["ltxmlx.run", "+job=t2a", f"hydra.run.dir={t2a_run}"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert len(entries(t2a_run)) == 4


@pytest.mark.parametrize("field", ["images", "audio"])
def test_conditioning_media_is_refused_before_loading(tmp_path, env, field):
    Image.new("RGB", (64, 64)).save(tmp_path / "pic.png")
    media = {"images": f"images: [{{path: {tmp_path / 'pic.png'}, frame: 0}}]",
             "audio": f"audio: {{path: {tmp_path / 'pic.png'}}}"}[field]
    proc = cli(["ltxmlx.run", "+job=t2a", f"hydra.run.dir={tmp_path / 'run'}", f"conditioning=[{{name: x, {media}}}]"],
               env)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"conditioning.0.{field}" in lines[0] and "t2a" in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()


def test_replay_compares_the_wav_files(t2a_run, tmp_path, env):
    proc = cli(["ltxmlx.replay", str(t2a_run), "--out", str(tmp_path / "replay")], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "identical: every stage output, decoded frame and audio sample, and output setting" in proc.stdout


def test_still_frame_mp4_on_request(tmp_path, env):
    from ltxmlx.media.probe import decode_video

    run = tmp_path / "run"
    proc = cli(["ltxmlx.run", "+job=t2a", f"hydra.run.dir={run}", "seeds=one", "prompts=[Rain on a tin roof]",
                "runner.still_frame_mp4=true"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (e,) = entries(run)
    info = probe(run / e["video"])
    assert info.audio_codec == "aac" and info.video_codec == "h264"
    frames = decode_video(run / e["video"])
    assert frames.shape[0] == 17  # the clip's length
    # One still picture (up to H.264 coding noise between its frames).
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() < 1.0
    assert (run / e["audio"]).is_file() and (run / e["thumbnail"]).is_file()
    assert (run / "contact_sheet.png").is_file()
