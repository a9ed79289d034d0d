"""The report pages in a real headless browser (Chromium): one playable video per item, filters that
work, no console errors; written when a run and a sweep end, and again by `python -m ltxmlx.report`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")


def browse(url: str) -> tuple[str, list[str]]:
    """(DOM after scripts ran and media metadata loaded, console messages)."""
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=15000", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]


def body_counts(dom: str) -> tuple[int, int]:
    body = re.search(r"<body([^>]*)>", dom).group(1)
    videos = re.search(r'data-videos="(\d+)"', body)
    loaded = re.search(r'data-loaded="(\d+)"', body)
    return int(videos.group(1)) if videos else 0, int(loaded.group(1)) if loaded else 0


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    env = dict(os.environ, LTXMLX_CACHE_DIR=str(tmp_path_factory.mktemp("weights")), HF_HUB_OFFLINE="1")
    env.pop("LTXMLX_JOBS_DIR", None)
    out = tmp_path_factory.mktemp("report") / "sweep"
    proc = subprocess.run([sys.executable, "-m", "ltxmlx.run", "-m", "+job=smoke", "resolution=smoke,smoke_wide",
                           "seeds.values=[1,2]", "prompts=[A lighthouse at night]", f"hydra.sweep.dir={out}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def runs(sweep: Path) -> list[Path]:
    return sorted(d for d in sweep.iterdir() if (d / "manifest.jsonl").is_file())


def test_run_report_plays_one_video_per_item(sweep):
    for run in runs(sweep):
        dom, console = browse((run / "report.html").as_uri())
        assert console == []
        assert body_counts(dom) == (2, 2)  # two seeds of one prompt, both players loaded their video
        assert "seed 1" in dom and "seed 2" in dom and "A lighthouse at night" in dom


def test_seed_filter_hides_other_seeds(sweep):
    dom, console = browse((runs(sweep)[0] / "report.html").as_uri() + "?seed=2")
    assert console == []
    cells = re.findall(r"<td data-seed=\"(\d)\" class=\"([^\"]*)\"", dom)
    assert sorted(cells) == [("1", "item hidden"), ("2", "item")]


def test_sweep_index_puts_jobs_side_by_side(sweep):
    dom, console = browse((sweep / "index.html").as_uri())
    assert console == []
    assert body_counts(dom) == (4, 4)
    assert "resolution=smoke_wide" in dom and "resolution=smoke<" in dom


def test_report_cli_rewrites_the_page(sweep):
    run = runs(sweep)[0]
    (run / "report.html").unlink()
    proc = subprocess.run([sys.executable, "-m", "ltxmlx.report", str(run)], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == str(run / "report.html")
    broken = next((run / "videos").glob("*.mp4"))
    broken.write_bytes(b"not a video")
    dom, console = browse((run / "report.html").as_uri())
    assert body_counts(dom) == (2, 1) and any("video failed to load" in c for c in console)
    bad = subprocess.run([sys.executable, "-m", "ltxmlx.report", str(run / "videos")], cwd=REPO,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "neither a run directory" in bad.stderr
