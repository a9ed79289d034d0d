"""`-m` smoke sweeps through the joblib, submitit_local and ray launcher presets; a missing plugin is
one clear line naming the extra."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ltxmlx.config import launchers
from ltxmlx.extras import MissingExtraError, available

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = dict(os.environ, LTXMLX_CACHE_DIR=str(tmp_path_factory.mktemp("weights")), HF_HUB_OFFLINE="1")
    e.pop("LTXMLX_JOBS_DIR", None)
    return e


# A local Ray instance has no `mlx` resource unless it is given one (a fleet's machines declare theirs).
EXTRA_ARGS = {"ray": ["+hydra.launcher.ray.init.resources={mlx:1}", "+hydra.launcher.ray.init.include_dashboard=false"]}


def sweep(launcher: str, out: Path, env) -> list[Path]:
    proc = subprocess.run([sys.executable, "-m", "ltxmlx.run", "-m", "+job=smoke", f"hydra/launcher={launcher}",
                           *EXTRA_ARGS.get(launcher, []),
                           "resolution=smoke,smoke_wide", "seeds=one", "prompts=[A lighthouse at night]",
                           f"hydra.sweep.dir={out}"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sorted(p for p in out.iterdir() if (p / "manifest.jsonl").is_file())


@pytest.mark.parametrize("launcher", ["joblib", "submitit_local", "ray"])
def test_smoke_sweep_through_launcher(launcher, tmp_path, env):
    module, extra = launchers.LAUNCHER_PLUGINS[launcher]
    if not available(module):
        pytest.skip(f"needs pip install 'ltxmlx[{extra}]'")
    runs = sweep(launcher, tmp_path / "sweep", env)
    assert len(runs) == 2
    for r in runs:
        assert len(list((r / "videos").glob("*.mp4"))) == 1 and (r / "report.html").is_file()
    assert (tmp_path / "sweep" / "index.html").is_file()
    if launcher == "submitit_local":
        assert (tmp_path / "sweep" / ".submitit").is_dir()  # the jobs really went through submitit


def test_missing_launcher_plugin_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(launchers.LAUNCHER_PLUGINS, "joblib", ("hydra_plugins.not_installed_launcher", "joblib"))
    with pytest.raises(MissingExtraError, match=r"pip install 'ltxmlx\[joblib\]'"):
        launchers.check_launcher(["+job=smoke", "hydra/launcher=joblib"])
    launchers.check_launcher(["+job=smoke", "hydra/launcher=basic"])  # not an optional one
