"""Hydra callback: `report.html` when a job of `python -m ltxmlx.run` ends, `index.html` when a multirun ends.

Runs in the process of the job (and of the sweep), whichever launcher is configured, so the pages
appear without a separate step; `python -m ltxmlx.report DIR` rewrites them at any time.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ltxmlx.report.data import is_run_dir
from ltxmlx.report.index_page import write_sweep_index
from ltxmlx.report.run_page import write_run_report

log = logging.getLogger(__name__)


class ReportCallback(Callback):
    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        run_dir = Path(config.hydra.runtime.output_dir)
        if is_run_dir(run_dir) and (run_dir / "manifest.jsonl").is_file():
            write_run_report(run_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if sweep_dir.is_dir() and any(is_run_dir(d) for d in sweep_dir.iterdir() if d.is_dir()):
            write_sweep_index(sweep_dir)
