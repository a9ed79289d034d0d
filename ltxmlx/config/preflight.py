"""Check a command line before Hydra starts: every job of a (multi)run is composed and validated.

Hydra reports a bad group option only after setting up the run, with a multi-line message and exit
code 1, and creates the output directory before our code runs. This turns such problems into one
line and exit code 2 before anything is written or loaded: unknown job or group option, values the
schema refuses, invalid sizes/frames/prompts/seeds, prompt files that are not UTF-8 text, weight files
that are missing, malformed or of the wrong kind, LoRAs that do not fit the checkpoint, conditioning
images that do not decode, and an output directory that cannot be written or holds symbolic links.
"""

from __future__ import annotations

import fnmatch
import itertools
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ltxmlx.config.compose import compose_config
from ltxmlx.config.inputs import check_images, check_weight_files
from ltxmlx.config.jobs import check_choice, config_groups, did_you_mean, group_options, jobs_dir
from ltxmlx.config.launchers import check_launcher
from ltxmlx.config.plan import expand_seeds, load_prompts
from ltxmlx.config.schema import RunConfig
from ltxmlx.config.validate import to_run_config, validate
from ltxmlx.errors import LtxmlxError
from ltxmlx.fleet import check_fleet
from ltxmlx.runner.outputs import check_no_links, check_writable
from ltxmlx.runner.ownership import check_unlocked

log = logging.getLogger(__name__)

MAX_PREFLIGHT_JOBS = 256
# Hydra flags that take a value (the value is not an override).
_FLAGS_WITH_VALUE = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
                     "--experimental-rerun", "--info", "-i", "--package", "-p"}
# Flags after which Hydra does not run a job at all; preflight is skipped for them.
PASSTHROUGH_FLAGS = {"--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--info", "-i",
                     "--shell-completion", "-sc", "--resolve"}


class BadOverrideError(LtxmlxError):
    """An override Hydra cannot apply (unknown key, wrong type, bad syntax)."""


@dataclass(frozen=True)
class Preflight:
    multirun: bool
    jobs: list[list[str]]  # overrides of each job, sweeps expanded
    configs: list[RunConfig]


def split_argv(argv: list[str]) -> tuple[list[str], bool]:
    """(overrides, multirun) from a Hydra command line."""
    overrides, multirun, skip = [], False, False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("-m", "--multirun"):
            multirun = True
        elif arg in _FLAGS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-") or arg.startswith("~"):
            overrides.append(arg)
    return overrides, multirun


def _expand(overrides: list[str]) -> list[list[str]]:
    """Cartesian product of sweep overrides (Hydra's basic sweeper order); group options checked."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as e:
        raise BadOverrideError(_first_line(e)) from e
    axes = []
    groups = set(config_groups())
    for o in parsed:
        key = o.key_or_group
        if o.is_sweep_override():
            value = o.value()
            if type(value).__name__ == "Glob":
                values = [v for v in group_options(key) if any(fnmatch.fnmatch(v, g) for g in value.include)
                          and not any(fnmatch.fnmatch(v, g) for g in value.exclude)]
            else:
                values = list(o.sweep_string_iterator())
        else:
            values = [None]
        if key in groups and not o.is_delete():
            for v in values:
                check_choice(key, v if v is not None else o.value())
        axes.append([o.input_line] if values == [None] else [f"{o.get_key_element()}={v}" for v in values])
    return [list(c) for c in itertools.product(*axes)] if axes else [[]]


_UNKNOWN_KEY = re.compile(r"Could not override '([^']+)'|Key '([^']+)' not in '|Could not append to config\. An item is already at '([^']+)'")


def schema_keys() -> list[str]:
    """Every dotted key of the run config schema (what an override may set)."""
    def walk(node, prefix: str) -> list[str]:
        out = []
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            out.append(key)
            if isinstance(v, dict):
                out += walk(v, key)
        return out

    return walk(OmegaConf.to_container(OmegaConf.structured(RunConfig), resolve=False), "")


def _explain(e: Exception) -> str:
    """One line for a composition error; an unknown key gets "did you mean" instead of Hydra's '+key' hint."""
    m = _UNKNOWN_KEY.search(str(e))
    if m:
        key = next(g for g in m.groups() if g)
        return f"unknown config key {key!r}{did_you_mean(key, schema_keys())}"
    return _first_line(e)


def _first_line(e: Exception) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return "; ".join(lines[:2]) if lines else type(e).__name__


def preflight(argv: list[str]) -> Preflight:
    """Compose and validate every job the command line would run; raise LtxmlxError on the first problem."""
    overrides, multirun = split_argv(argv)
    check_launcher(overrides)
    jobs = _expand(overrides)
    if len(jobs) > 1 and not multirun:
        raise BadOverrideError(f"{len(jobs)} jobs from sweep overrides; add -m (--multirun) to run them all")
    configs = []
    for job in jobs[:MAX_PREFLIGHT_JOBS]:
        try:
            composed = compose_config(job, with_hydra=True)
            cfg = to_run_config(composed)
            out_dir = composed.hydra.sweep.dir if multirun else composed.hydra.run.dir
        except (HydraException, OmegaConfBaseException) as e:
            raise BadOverrideError(_explain(e)) from e
        validate(cfg)
        check_fleet(cfg)
        load_prompts(cfg, [jobs_dir()])
        expand_seeds(cfg)
        check_weight_files(cfg)
        check_images(cfg)
        check_writable(Path(out_dir))
        check_no_links(Path(out_dir))
        check_unlocked(Path(out_dir))  # before Hydra writes .hydra/ and run.log into a live run's directory
        configs.append(cfg)
    if len(jobs) > MAX_PREFLIGHT_JOBS:
        log.warning("checked the first %d of %d jobs", MAX_PREFLIGHT_JOBS, len(jobs))
    return Preflight(multirun, jobs, configs)

