"""Compose the run config outside `@hydra.main` (pre-flight checks, dry runs, replay, tests)."""

from __future__ import annotations

import warnings
from typing import Sequence

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from ltxmlx.config.jobs import CONF_DIR, register_jobs, register_resolvers
from ltxmlx.config.schema import register_schemas

_registered = False


def register_all() -> None:
    """Schema, job files and resolvers; must run before Hydra composes anything."""
    global _registered
    # conf/hydra/launcher/<name>.yaml only sets knobs of the launcher plugin's schema of the same name;
    # Hydra 1.3 merges the two as intended but warns that such name matching is deprecated.
    warnings.filterwarnings("ignore", message=r"\s*'hydra/launcher/\w+' is validated against ConfigStore schema",
                            category=UserWarning)
    if not _registered:
        register_schemas()
        register_jobs()
        register_resolvers()
        _registered = True


def compose_config(overrides: Sequence[str] = (), with_hydra: bool = False) -> DictConfig:
    """The composed config for `overrides` (Hydra override syntax, no sweeps)."""
    register_all()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="run"):
        return compose("config", overrides=list(overrides), return_hydra_config=with_hydra)
