"""The pipeline example jobs of `jobs/` end to end on the tiny model, with fixture media written here:
videos and records, resume after SIGKILL between stages, and bad input refused before any model loads."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ltxmlx.media.probe import decode_video, probe
from ltxmlx.media.video import ffmpeg_exe, write_mp4
from ltxmlx.pipelines.tiny import ensure_tiny_checkpoints
from tests.e2e.test_smoke import REPO, cli, env  # noqa: F401  (env is a fixture)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("media")
    x = np.linspace(0, 255, 96, dtype=np.float32)
    ramp = np.add.outer(x[:64] * 0.5, x * 0.5)
    images = {"first": np.stack([ramp, np.tile(x, (64, 1)), np.full((64, 96), 90.0)], -1),
              "last": np.stack([np.full((64, 96), 200.0), np.tile(x[::-1], (64, 1)), ramp], -1)}
    out = {}
    for name, rgb in images.items():
        Image.fromarray(rgb.astype(np.uint8)).save(root / f"{name}.png")
        out[name] = str(root / f"{name}.png")
    (root / "notes.txt").write_text("not an image")
    out["text"] = str(root / "notes.txt")
    for name, seconds in {"tone": 1.5, "brief": 0.3}.items():
        t = np.arange(int(44100 * seconds)) / 44100
        x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        subprocess.run([ffmpeg_exe(), "-y", "-v", "error", "-f", "f32le", "-ar", "44100", "-ac", "2", "-i", "-",
                        str(root / f"{name}.wav")], input=np.stack([x, x], 1).tobytes(), check=True)
        out[name] = str(root / f"{name}.wav")
    rng = np.random.default_rng(0)
    for name, (frames, h, w) in {"pose": (17, 128, 128), "short": (9, 128, 128), "wide": (17, 128, 192)}.items():
        write_mp4(root / f"{name}.mp4", (rng.random((frames, h, w, 3)) * 255).astype(np.uint8), 24.0)
        out[name] = str(root / f"{name}.mp4")
    t = np.arange(17 * 1000) / 24000
    tone = np.stack([0.3 * np.sin(2 * np.pi * 330 * t)] * 2).astype(np.float32)
    write_mp4(root / "clip.mp4", (rng.random((17, 128, 128, 3)) * 255).astype(np.uint8), 24.0, tone, 24000)
    out["clip"] = str(root / "clip.mp4")
    write_mp4(root / "clip30.mp4", (rng.random((21, 128, 128, 3)) * 255).astype(np.uint8), 30.0)
    out["clip30"] = str(root / "clip30.mp4")
    return out


def keyframe_sets(media, last_frame: int = 16, second: bool = False) -> str:
    sets = [f"{{name: ends, images: [{{path: {media['first']}, frame: 0}}, "
            f"{{path: {media['last']}, frame: {last_frame}, strength: 0.9}}]}}"]
    if second:
        sets.append(f"{{name: last_only, images: [{{path: {media['last']}, frame: {last_frame}}}]}}")
    return f"conditioning=[{', '.join(sets)}]"


def test_keyframe_job_crosses_conditioning_sets_with_seeds(tmp_path, env, media):
    run = tmp_path / "run"
    proc = cli(["ltxmlx.run", "+job=keyframes", f"hydra.run.dir={run}", keyframe_sets(media, second=True)], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
    # 1 prompt x 2 seeds x 2 conditioning sets.
    assert sorted((e["seed"], e["conditioning"]) for e in manifest) == [
        (10, "ends"), (10, "last_only"), (11, "ends"), (11, "last_only")]
    for e in manifest:
        info = probe(run / e["video"])
        assert info.audio_codec == "aac" and decode_video(run / e["video"]).shape[0] == 17
    plan = json.loads((run / "plan.json").read_text())
    frames = {i["conditioning"]: [im["frame"] for im in i["images"]] for i in plan["items"]}
    assert frames == {"ends": [0, 16], "last_only": [16]}
    # Items with different keyframes never share a batch (their token counts differ).
    by_id = {i["id"]: i["conditioning"] for i in plan["items"]}
    assert all(len({by_id[i] for i in batch}) == 1 for batch in plan["batches"])


# Each pipeline's job with the overrides that give it fixture media (one seed to keep the suite fast).
RESUMABLE = {
    "keyframes": lambda media: [keyframe_sets(media)],
    "ic_lora": lambda media: ["seeds=one", reference_sets(media["pose"])],
    "a2v": lambda media: ["seeds=one", audio_sets(media["tone"])],
    "retake": lambda media: ["seeds=one", source_sets(media["clip"])],
    "hq": lambda media: ["seeds=one"],
    "t2a": lambda media: ["seeds=one"],
}


@pytest.mark.parametrize("job", sorted(RESUMABLE))
def test_job_resumes_after_sigkill_between_stages(tmp_path, env, media, job):
    run = tmp_path / "killed"
    args = [f"+job={job}", f"hydra.run.dir={run}", *RESUMABLE[job](media)]
    proc = subprocess.Popen([sys.executable, "-m", "ltxmlx.run", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    keys = None
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if keys is None and (run / "plan.json").is_file():
            keys = {i["keys"]["stage1"] for i in json.loads((run / "plan.json").read_text())["items"]}
        if keys and len(list((run / "cache" / "stage1").glob("*.safetensors"))) == len(keys):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    assert proc.wait() == -signal.SIGKILL, "the run finished before stage 1 could be observed; nothing was killed"
    stamps = {p: p.stat().st_mtime_ns for p in (run / "cache" / "stage1").glob("*.safetensors")}
    resumed = cli(["ltxmlx.run", *args], env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # stage 1 was not recomputed
    manifest = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
    assert len(manifest) == len(keys) and all("stage1" in e["cached_stages"] for e in manifest)
    clean = tmp_path / "clean"
    assert cli(["ltxmlx.run", *args[:1], f"hydra.run.dir={clean}", *args[2:]], env).returncode == 0
    for e in manifest:
        if "video" in e:
            assert np.array_equal(decode_video(run / e["video"]), decode_video(clean / e["video"]))
        else:  # an audio-only pipeline's wav
            assert (run / e["audio"]).read_bytes() == (clean / e["audio"]).read_bytes()


@pytest.mark.parametrize("override, key", [
    ("last_frame", "conditioning.0.images.1.frame"),
    ("not_an_image", "conditioning.0.images.0.path"),
])
def test_bad_keyframes_exit_2_with_one_line_before_loading(tmp_path, env, media, override, key):
    sets = keyframe_sets(media, last_frame=17) if override == "last_frame" else keyframe_sets(
        {**media, "first": media["text"]})
    proc = cli(["ltxmlx.run", "+job=keyframes", f"hydra.run.dir={tmp_path / 'run'}", sets], env)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and key in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()


def reference_sets(*videos: str) -> str:
    sets = [f"{{name: ref{i}, references: [{{path: {v}}}]}}" for i, v in enumerate(videos)]
    return f"conditioning=[{', '.join(sets)}]"


def test_ic_lora_job_renders_reference_sets(tmp_path, env, media):
    run = tmp_path / "run"
    proc = cli(["ltxmlx.run", "+job=ic_lora", f"hydra.run.dir={run}", "seeds=one", reference_sets(media["pose"])],
               env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
    assert len(manifest) == 1 and decode_video(run / manifest[0]["video"]).shape[0] == 17
    (item,) = json.loads((run / "plan.json").read_text())["items"]
    assert item["references"] == [{"path": media["pose"], "strength": 1.0, "mask": None}]


@pytest.mark.parametrize("case, key", [
    ("short", "conditioning.0.references.0.path"),
    ("wide", "conditioning.0.references.0.path"),
    ("not_ic", "loras"),
])
def test_bad_ic_lora_input_exits_2_with_one_line_before_loading(tmp_path, env, media, case, key):
    args = ["ltxmlx.run", "+job=ic_lora", f"hydra.run.dir={tmp_path / 'run'}"]
    if case == "not_ic":
        lora = ensure_tiny_checkpoints(Path(env["LTXMLX_CACHE_DIR"]) / "tiny")["distilled_lora"]
        args += [reference_sets(media["pose"]), f"lora.stack=[{{weights: {lora}}}]"]
    else:
        args.append(reference_sets(media[case]))
    proc = cli(args, env)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and key in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()


def audio_sets(*tracks: str, start: float = 0.0) -> str:
    sets = [f"{{name: track{i}, audio: {{path: {t}, start_time: {start}}}}}" for i, t in enumerate(tracks)]
    return f"conditioning=[{', '.join(sets)}]"


def test_a2v_job_keeps_the_input_audio(tmp_path, env, media):
    run = tmp_path / "run"
    proc = cli(["ltxmlx.run", "+job=a2v", f"hydra.run.dir={run}", "seeds=one", audio_sets(media["tone"])], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (entry,) = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
    info = probe(run / entry["video"])
    assert info.audio_codec == "aac" and decode_video(run / entry["video"]).shape[0] == 17
    (item,) = json.loads((run / "plan.json").read_text())["items"]
    assert item["audio"] == {"path": media["tone"], "start_time": 0.0, "max_duration": None}


@pytest.mark.parametrize("case, key", [
    ("not_audio", "conditioning.0.audio.path"),
    ("too_short", "conditioning.0.audio.path"),
    ("late_start", "conditioning.0.audio.path"),
])
def test_bad_audio_exits_2_with_one_line_before_loading(tmp_path, env, media, case, key):
    sets = {"not_audio": audio_sets(media["first"]), "too_short": audio_sets(media["brief"]),
            "late_start": audio_sets(media["tone"], start=1.4)}[case]
    proc = cli(["ltxmlx.run", "+job=a2v", f"hydra.run.dir={tmp_path / 'run'}", sets], env)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and key in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()


def source_sets(path: str, start: float = 0.2, end: float = 0.5) -> str:
    return f"conditioning=[{{name: window, source: {{path: {path}, start_time: {start}, end_time: {end}}}}}]"


def test_retake_job_regenerates_a_window(tmp_path, env, media):
    run = tmp_path / "run"
    proc = cli(["ltxmlx.run", "+job=retake", f"hydra.run.dir={run}", "seeds=one", source_sets(media["clip"])], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (entry,) = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
    assert probe(run / entry["video"]).audio_codec == "aac" and decode_video(run / entry["video"]).shape[0] == 17
    (item,) = json.loads((run / "plan.json").read_text())["items"]
    assert item["source"] == {"path": media["clip"], "start_time": 0.2, "end_time": 0.5}


@pytest.mark.parametrize("case, key", [
    ("empty", "conditioning.0.source.start_time"),
    ("outside", "conditioning.0.source.start_time"),
    ("other_fps", "conditioning.0.source.path"),
    ("too_short", "conditioning.0.source.path"),
])
def test_bad_retake_input_exits_2_with_one_line_before_loading(tmp_path, env, media, case, key):
    sets = {"empty": source_sets(media["clip"], 0.3, 0.3), "outside": source_sets(media["clip"], 0.5, 0.9),
            "other_fps": source_sets(media["clip30"]), "too_short": source_sets(media["short"])}[case]
    proc = cli(["ltxmlx.run", "+job=retake", f"hydra.run.dir={tmp_path / 'run'}", sets], env)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and key in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()


def test_hq_job_records_that_its_sde_noise_ignores_the_item_seed(tmp_path, env):
    run = tmp_path / "run"
    proc = cli(["ltxmlx.run", "+job=hq", f"hydra.run.dir={run}"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
    assert sorted(e["seed"] for e in manifest) == [10, 11]
    for e in manifest:
        assert decode_video(run / e["video"]).shape[0] == 17
        for stage in ("stage1", "stage2"):
            assert e["notes"][stage]["sampler"] == "res_2s"
            assert e["notes"][stage]["sde_noise_from_item_seed"] is False
