"""The two seams of the official-pipeline benchmark (`official_distilled.py`) into the official code: a
`Registry` (the official loaders' state-dict and model-shell cache) that answers with random resident
weights, and timers around the pipeline's blocks. Built from the torch / ltx-core objects passed in, so this
module imports neither.
"""

from __future__ import annotations

import contextlib
import threading
import time
import zlib
from pathlib import Path

from bench.official_files import SEED, Files


def make_registry_class(torch, Registry, StateDict):
    """The registry class, built once the official packages are importable."""

    float_dtypes = {"F64", "F32", "F16", "BF16"}
    int_dtypes = {"I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
                  "U8": torch.uint8, "BOOL": torch.bool}

    class RandomWeightsRegistry(Registry):
        """Answers every state-dict lookup with seeded random tensors for the checkpoint's keys (through the
        caller's key/value operations, as the official file loader does) and keeps them, and the model shells,
        for the life of the pipeline. Floating tensors are N(0, 0.02) in `dtype` (what the blocks cast to;
        0-d float32 scalars stay float32, as the builders keep them); integer tensors are zeros."""

        def __init__(self, files: Files, device, dtype):
            self._files, self._device, self._dtype = files, device, dtype
            self._state_dicts: dict[str, object] = {}
            self._models: dict[str, object] = {}
            self._lock = threading.Lock()
            self.generated_seconds = 0.0  # time spent generating random weights (stands in for file reads)
            self.generated_bytes = 0

        def _key(self, paths, sd_ops) -> str:
            return "\0".join([str(Path(p).resolve()) for p in paths] + [sd_ops.name if sd_ops else ""])

        def _random(self, name: str, shape: list[int], dtype: str):
            if dtype not in float_dtypes:
                return torch.zeros(shape, dtype=int_dtypes[dtype], device=self._device)
            out_dtype = torch.float32 if (dtype == "F32" and not shape) else self._dtype
            gen = torch.Generator(device=self._device).manual_seed(SEED * 1_000_003 + zlib.crc32(name.encode()))
            return torch.randn(shape, generator=gen, dtype=out_dtype, device=self._device).mul_(0.02)

        def _generate(self, paths, sd_ops):
            sync(torch, self._device)
            t0 = time.perf_counter()
            sd = {}
            for path in paths:
                manifest = self._files.tensors.get(str(Path(path).resolve()))
                if manifest is None:
                    raise KeyError(f"no tensor list for {path}: not one of this benchmark's checkpoint files")
                for name, shape, dtype in manifest:
                    key = name if sd_ops is None else sd_ops.apply_to_key(name)
                    if key is None:
                        continue
                    value = self._random(name, shape, dtype)
                    pairs = [(key, value)] if sd_ops is None else sd_ops.apply_to_key_value(key, value)
                    for k, v in pairs:
                        sd[k] = v
            size = sum(v.nbytes for v in sd.values())
            sync(torch, self._device)
            self.generated_seconds += time.perf_counter() - t0
            self.generated_bytes += size
            return StateDict(sd=sd, device=self._device, size=size, dtype={v.dtype for v in sd.values()})

        def get(self, paths, sd_ops):
            key = self._key(paths, sd_ops)
            with self._lock:
                if key not in self._state_dicts:
                    self._state_dicts[key] = self._generate(paths, sd_ops)
                return self._state_dicts[key]

        def add(self, paths, sd_ops, state_dict):
            with self._lock:
                self._state_dicts.setdefault(self._key(paths, sd_ops), state_dict)
            return state_dict

        def pop(self, paths, sd_ops):
            with self._lock:
                return self._state_dicts.pop(self._key(paths, sd_ops), None)

        def clear(self) -> None:
            with self._lock:
                self._state_dicts.clear()
                self._models.clear()

        def get_model(self, key):
            with self._lock:
                return self._models.get(key)

        def add_model(self, key, model):
            with self._lock:
                return self._models.setdefault(key, model)

        def pop_model(self, key):
            with self._lock:
                return self._models.pop(key, None)

        def resident(self) -> dict:
            return {"state_dicts": len(self._state_dicts), "model_shells": len(self._models),
                    "weight_bytes": self.generated_bytes}

    return RandomWeightsRegistry


# ---------------------------------------------------------------------------------------------------------------
# Per-stage timing
# ---------------------------------------------------------------------------------------------------------------

def sync(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Clock:
    """Seconds per stage of the current call. Sections nest (an outer section's time excludes its inner ones'),
    and the registry's random weight generation is left out of every section and summed apart."""

    def __init__(self, torch, device, registry):
        self.torch, self.device, self.registry = torch, device, registry
        self.stages: dict[str, float] = {}
        self.generated = 0.0
        self._inner = (0.0, 0.0)  # (seconds, generation seconds) of the sections nested in the open one

    def reset(self) -> None:
        self.stages, self.generated = {}, 0.0

    @contextlib.contextmanager
    def section(self, name: str):
        sync(self.torch, self.device)
        outer, self._inner = self._inner, (0.0, 0.0)
        g0, t0 = self.registry.generated_seconds, time.perf_counter()
        try:
            yield
        finally:
            sync(self.torch, self.device)
            total, generated = time.perf_counter() - t0, self.registry.generated_seconds - g0
            inner_s, inner_g = self._inner
            own_generated = generated - inner_g
            self.stages[name] = self.stages.get(name, 0.0) + total - inner_s - own_generated
            self.generated += own_generated
            self._inner = (outer[0] + total, outer[1] + generated)


class Float32Builds:
    """A model builder whose builds are all in `dtype` (CPU smoke runs only, see Bench)."""

    def __init__(self, builder, dtype):
        self._builder, self._dtype = builder, dtype

    def build(self, *args, **kwargs):
        kwargs["dtype"] = self._dtype
        return self._builder.build(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._builder, name)


class TimedBlock:
    """Wraps a pipeline block; its calls are timed under `names` (one name per call within a render)."""

    def __init__(self, block, clock: Clock, names: tuple[str, ...]):
        self._block, self._clock, self._names, self._calls = block, clock, names, 0

    def __call__(self, *args, **kwargs):
        name = self._names[min(self._calls, len(self._names) - 1)]
        self._calls += 1
        with self._clock.section(name):
            return self._block(*args, **kwargs)

    def reset(self) -> None:
        self._calls = 0

    def __getattr__(self, name):
        return getattr(self._block, name)


def timed_iter(clock: Clock, name: str, it):
    """Yields from `it`, timing the work inside each step: the decoder runs lazily as chunks are taken, and
    frees itself when the iterator is exhausted."""
    done = object()
    while True:
        with clock.section(name):
            chunk = next(it, done)
        if chunk is done:
            return
        yield chunk
