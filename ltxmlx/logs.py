"""Logging helpers: each console warning once, and third-party loggers routed through ours.

`OnceFilter` (attached to the console handler by conf/hydra/job_logging) lets a record through only
the first time its level, logger and message occur, so a warning repeated per batch or per file is
shown once (run.log, without the filter, keeps every occurrence). `route_library_logs` removes the
stderr handler huggingface_hub installs on its own logger: its records still propagate to the
root handlers, so they are shown once instead of twice.
"""

from __future__ import annotations

import logging

LIBRARY_LOGGERS = ("huggingface_hub",)


class OnceFilter(logging.Filter):
    def __init__(self, name: str = ""):
        super().__init__(name)
        self.seen: set[tuple] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.levelno, record.name, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def route_library_logs() -> None:
    for name in LIBRARY_LOGGERS:
        lib = logging.getLogger(name)
        for handler in list(lib.handlers):
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                lib.removeHandler(handler)
        lib.propagate = True
