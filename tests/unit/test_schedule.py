"""`python -m ltxmlx.schedule`: the launchd plist and systemd units it writes, and install/show/remove
driving `launchctl` / `systemctl` (stand-ins on PATH record the calls)."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from ltxmlx.queue.worker import in_window
from ltxmlx.schedule.units import Schedule, ScheduleError, launchd_plist, systemd_units

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sched(tmp_path):
    work = tmp_path / "my renders 100%"  # a space and a percent sign exercise the quoting
    work.mkdir()
    return Schedule(at="01:30", until="07:00", db=tmp_path / "out" / "queue.sqlite", workdir=work,
                    env={"LTXMLX_CACHE_DIR": str(tmp_path / "cache dir")})


def cli(args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ltxmlx.schedule", *args], cwd=REPO, capture_output=True,
                          text=True, env=env)


def test_launchd_plist(sched):
    plist = plistlib.loads(launchd_plist(sched))
    assert plist["Label"] == "org.ltxmlx.queue"
    assert plist["StartCalendarInterval"] == {"Hour": 1, "Minute": 30}
    assert plist["ProgramArguments"][:2] == ["/usr/bin/caffeinate", "-i"]
    assert plist["ProgramArguments"][2:] == [sys.executable, "-m", "ltxmlx.queue", "run", "--after", "01:30",
                                             "--until", "07:00", "--db", str(sched.db)]
    assert plist["WorkingDirectory"] == str(sched.workdir)
    assert plist["EnvironmentVariables"] == sched.env


def test_dry_run_prints_a_valid_plist():
    proc = cli(["install", "--at", "01:00", "--until", "07:00", "--dry-run", "--scheduler", "launchd",
                "--db", "/tmp/q/queue.sqlite"])
    assert proc.returncode == 0, proc.stderr
    comment, body = proc.stdout.split("\n", 1)
    assert comment.endswith("LaunchAgents/org.ltxmlx.queue.plist")
    plist = plistlib.loads(body.encode())
    assert plist["StartCalendarInterval"] == {"Hour": 1, "Minute": 0} and "--until" in plist["ProgramArguments"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_units_verify(sched, tmp_path):
    units = tmp_path / "units"
    units.mkdir()
    for name, text in systemd_units(sched).items():
        (units / name).write_text(text)
    proc = subprocess.run(["systemd-analyze", "verify", *[str(units / n) for n in sorted(os.listdir(units))]],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "ltxmlx-queue" not in proc.stderr, proc.stderr
    timer = (units / "ltxmlx-queue.timer").read_text()
    assert "OnCalendar=*-*-* 01:30:00" in timer and "Persistent=true" in timer
    service = (units / "ltxmlx-queue.service").read_text()
    assert f"WorkingDirectory={sched.workdir}".replace("100%", "100%%") in service
    assert f'Environment="LTXMLX_CACHE_DIR={sched.env["LTXMLX_CACHE_DIR"]}"' in service
    assert "--after 01:30 --until 07:00" in service


def test_bad_times_are_refused(tmp_path):
    with pytest.raises(ScheduleError, match="hour 0-23"):
        Schedule(at="24:00", until="07:00", db=tmp_path / "q")
    with pytest.raises(ScheduleError, match="empty"):
        Schedule(at="07:00", until="07:00", db=tmp_path / "q")
    proc = cli(["install", "--at", "1am", "--until", "07:00", "--dry-run"])
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "HH:MM" in proc.stderr


def test_window_spans_midnight():
    day = datetime(2026, 1, 1)
    assert in_window("01:00", "07:00", day.replace(hour=1))
    assert not in_window("01:00", "07:00", day.replace(hour=9))  # a catch-up start after the window
    assert in_window("22:00", "06:00", day.replace(hour=23)) and in_window("22:00", "06:00", day.replace(hour=5))
    assert not in_window("22:00", "06:00", day.replace(hour=12))


@pytest.mark.parametrize("scheduler,tool", [("systemd", "systemctl"), ("launchd", "launchctl")])
def test_install_show_remove(tmp_path, scheduler, tool):
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.txt"
    bin_dir.mkdir()
    (bin_dir / tool).write_text(f"#!/bin/sh\necho \"{tool} $*\" >> {calls}\n")
    (bin_dir / tool).chmod(0o755)
    env = dict(os.environ, HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "home" / ".config"),
               PATH=f"{bin_dir}:{os.environ['PATH']}")
    args = ["--scheduler", scheduler, "--name", "night"]
    proc = cli(["install", "--at", "01:00", "--until", "07:00", "--db", str(tmp_path / "q.sqlite"), *args], env)
    assert proc.returncode == 0, proc.stderr
    written = [Path(line.split(" ", 1)[1]) for line in proc.stdout.splitlines()]
    assert written and all(p.is_file() and str(p).startswith(str(tmp_path / "home")) for p in written)
    expected = "systemctl --user enable --now ltxmlx-night.timer" if tool == "systemctl" else \
        f"launchctl bootstrap gui/{os.getuid()} {written[0]}"
    assert expected in calls.read_text()
    shown = cli(["show", *args], env)
    assert shown.returncode == 0 and "07:00" in shown.stdout
    assert cli(["remove", *args], env).returncode == 0
    assert not any(p.exists() for p in written)
    missing = cli(["remove", *args], env)
    assert missing.returncode == 2 and "no schedule named 'night'" in missing.stderr
