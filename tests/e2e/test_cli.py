"""The CLI surface that needs no models: --help lists the groups and jobs; a dry run on bad input writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_help_lists_groups_and_jobs():
    helped = subprocess.run([sys.executable, "-m", "ltxmlx.run", "--help"], cwd=REPO, capture_output=True, text=True)
    assert helped.returncode == 0, helped.stderr
    assert "job: a2v, hq, ic_lora, keyframes, overnight, retake, smoke, smoke25, sweep" in helped.stdout
    assert "model: ltx23_dev" in helped.stdout and "ltx25_distilled" in helped.stdout and "tiny25" in helped.stdout


def test_bad_input_writes_no_run_directory(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ltxmlx.run", "+job=smoke", "resolution.frames=16",
                           f"output_root={tmp_path}"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "resolution.frames" in proc.stderr
    assert not list(tmp_path.rglob("*.mp4")) and not list(tmp_path.rglob("manifest.jsonl"))
