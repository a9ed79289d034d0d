"""Job files as the Hydra config group `job` (`+job=sweep`), without a Hydra plugin.

Every `*.yaml` directly in the jobs directory is stored in Hydra's ConfigStore under group `job`,
package `_global_` (job files override top-level keys and other groups). The jobs directory is
`$LTXMLX_JOBS_DIR` if set, else `jobs/` of this checkout. Also registers the `ltx_slug` resolver
used by the multirun sub-directory names and `ltx_launch`, the per-launch suffix of default run
directories.
"""

from __future__ import annotations

import difflib
import os
import re
import uuid
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from ltxmlx.config.naming import bounded_slug
from ltxmlx.errors import LtxmlxError

REPO_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = REPO_ROOT / "conf"
_PACKAGE_HEADER = re.compile(r"^#\s*@package\s+(\S+)\s*$")


class UnknownOptionError(LtxmlxError):
    """A job or group option that does not exist; the message lists the available ones."""


def jobs_dir() -> Path:
    env = os.environ.get("LTXMLX_JOBS_DIR")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / "jobs"


def available_jobs() -> list[str]:
    d = jobs_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def group_options(group: str) -> list[str]:
    """Options of a config group of `conf/` (or the jobs of `job`)."""
    if group == "job":
        return available_jobs()
    d = CONF_DIR / group
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def config_groups() -> list[str]:
    return sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir() and p.name != "hydra") + ["job"]


def _package_of(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines()[:5]:
        m = _PACKAGE_HEADER.match(line.strip())
        if m:
            return m.group(1)
    # Job files are documented as global; a missing header must not move them under `job:`.
    return "_global_"


def register_jobs() -> None:
    cs = ConfigStore.instance()
    d = jobs_dir()
    for name in available_jobs():
        path = d / f"{name}.yaml"
        node = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        cs.store(group="job", name=name, node=node, package=_package_of(path))


def _generation_value(name: str, key: str, tiny: bool = False):
    # Imported here: the generation table pulls in the guidance code, which composing does not need.
    from ltxmlx.generations import TINY_MODEL_DEFAULTS, get

    if tiny and key in TINY_MODEL_DEFAULTS:  # the 2-layer test models keep their runs short
        return TINY_MODEL_DEFAULTS[key]
    return get(str(name)).value(str(key))


# One random suffix per process: default run directories differ even for launches in the same second,
# while every resolution within one launch (pre-flight, Hydra, the run) names the same directory.
LAUNCH_ID = uuid.uuid4().hex[:6]


def register_resolvers() -> None:
    """`ltx_slug` (multirun sub-directory names) and `ltx_gen`
    (`${ltx_gen:${model.version},default_steps,${model.tiny}}`: a setting of the model's generation from
    `ltxmlx.generations`, so groups never repeat the table; the tiny test models have their own)."""
    if not OmegaConf.has_resolver("ltx_slug"):
        OmegaConf.register_new_resolver("ltx_slug", lambda s: bounded_slug(str(s)))
    if not OmegaConf.has_resolver("ltx_gen"):
        OmegaConf.register_new_resolver("ltx_gen", _generation_value)
    if not OmegaConf.has_resolver("ltx_launch"):
        OmegaConf.register_new_resolver("ltx_launch", lambda: LAUNCH_ID)


def did_you_mean(name: str, candidates) -> str:
    """' (did you mean X?)' for the closest candidate, '' when none is close."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_choice(group: str, option: str) -> None:
    """Raise UnknownOptionError naming the valid options when `option` is not in `group`."""
    if group not in config_groups():
        raise UnknownOptionError(
            f"unknown config group {group!r}{did_you_mean(group, config_groups())}; "
            f"groups: {', '.join(config_groups())}"
        )
    options = group_options(group)
    if option not in options:
        what = "job" if group == "job" else f"{group} option"
        where = f" (jobs directory {jobs_dir()})" if group == "job" else ""
        raise UnknownOptionError(
            f"unknown {what} {option!r}{did_you_mean(str(option), options)}; "
            f"available: {', '.join(options) or 'none'}{where}"
        )
