"""Keep built modules alive between render jobs of one process (queue worker, fleet actor).

`build` consults the pool only inside `resident()`; outside it every build loads from disk as
before. A stage still drops its own references on exit; the pool holds the modules until a job
needs a model it does not hold, and then evicts what the current job has not used (the models of the
previous job that this one does not share). The pool also stays under a byte budget (default half
of this machine's memory, leaving the rest to the running stage), dropping the least recently used
modules first; a dropped module is simply built again when needed. Keys name everything that changes the weights: the
component, the file's identity (path, size, mtime), the checkpoint config, the dtype, the LoRA stack
(the transform's `pool_key`) and the quantization.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Hashable, Iterator

import mlx.core as mx
from mlx.utils import tree_flatten

log = logging.getLogger(__name__)


def file_identity(path: Path) -> tuple:
    """(resolved path, size, mtime_ns) of a file, or of every file under a directory."""
    p = Path(path).resolve()
    if p.is_dir():
        return (str(p), tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(p.iterdir()) if f.is_file()))
    st = p.stat()
    return (str(p), st.st_size, st.st_mtime_ns)


def pool_key(component: str, ckpt, dtype: mx.Dtype, transform, quantization=None) -> Hashable | None:
    """The pool key of one build, or None when the build cannot be keyed (an unnamed transform)."""
    if transform is not None and getattr(transform, "pool_key", None) is None:
        return None
    config = hashlib.sha256(json.dumps(ckpt.metadata.get("config"), sort_keys=True, default=str).encode()).hexdigest()
    t_key = getattr(transform, "pool_key", None) if transform is not None else None
    return (component, file_identity(ckpt.path), config, str(dtype), t_key, repr(quantization))


def default_budget_bytes() -> int:
    total = int(mx.device_info()["memory_size"]) if mx.metal.is_available() else \
        os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return total // 2


def module_bytes(module) -> int:
    return sum(v.nbytes for _, v in tree_flatten(module.parameters()))


@dataclass
class ResidentPool:
    """Built modules by key, least recently used first; `used` holds the keys the current job asked for."""

    max_bytes: int = field(default_factory=default_budget_bytes)
    modules: OrderedDict = field(default_factory=OrderedDict)
    sizes: dict[Hashable, int] = field(default_factory=dict)
    used: set = field(default_factory=set)
    hits: int = 0
    misses: int = 0

    def begin_job(self) -> None:
        self.used = set()

    def get(self, key: Hashable, make: Callable[[], object]) -> object:
        self.used.add(key)
        if key in self.modules:
            self.hits += 1
            self.modules.move_to_end(key)
            log.info("resident: reusing %s", key[0])
            return self.modules[key]
        self.misses += 1
        for k in [k for k in self.modules if k not in self.used]:
            self._drop(k, "not used by this job")
        module = make()
        self.modules[key], self.sizes[key] = module, module_bytes(module)
        while sum(self.sizes.values()) > self.max_bytes and len(self.modules) > 1:
            self._drop(next(iter(self.modules)), f"over the {self.max_bytes / 2**30:.1f} GiB budget")
        return module

    def _drop(self, key: Hashable, why: str) -> None:
        log.info("resident: dropping %s (%s)", key[0], why)
        del self.modules[key], self.sizes[key]
        mx.clear_cache()

    def clear(self) -> None:
        self.modules.clear()
        self.sizes.clear()
        self.used = set()
        mx.clear_cache()


_local = threading.local()


def active_pool() -> ResidentPool | None:
    """The pool of the enclosing `resident()` context on this thread, if any."""
    return getattr(_local, "pool", None)


@contextlib.contextmanager
def resident(pool: ResidentPool | None = None) -> Iterator[ResidentPool]:
    """Within this context, `build` returns pooled modules; the pool is emptied when it ends
    unless the caller passed its own pool (kept across several contexts)."""
    own = pool is None
    pool = pool or ResidentPool()
    previous = active_pool()
    _local.pool = pool
    try:
        yield pool
    finally:
        _local.pool = previous
        if own:
            pool.clear()
