"""LoRA fusion as a pure transform of a component's (key-mapped) weight dict: W += strength * B @ A.

LoRA files use the official key format `diffusion_model.<module>.lora_A.weight` (r x in) and
`.lora_B.weight` (out x r); the target is `<module>.weight`. There is no alpha/rank scaling. Several
LoRAs add up. Two numeric rules, as in the official loader:
  "float32": deltas aggregated in float32, added to the weight in float32, cast back to its dtype;
  "bf16":    A and B cast to bfloat16, products and sum in bfloat16 (the official CPU/CUDA default).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence, Union

import mlx.core as mx

from ltxmlx.errors import CheckpointError, ShapeError
from ltxmlx.loader.checkpoint import Checkpoint, open_checkpoint
from ltxmlx.loader.key_ops import KeyOps

log = logging.getLogger(__name__)

LORA_PREFIX = "diffusion_model."
_A, _B = ".lora_A.weight", ".lora_B.weight"
RULES = ("float32", "bf16")

LoraSource = Union[str, Path, Checkpoint]


class LoraError(CheckpointError):
    """A LoRA file does not fit the model it is fused into."""


@dataclass(frozen=True)
class LoraMatch:
    """What one LoRA of the stack touched."""

    path: str
    strength: float
    matched: int
    unmatched: tuple[str, ...]


@dataclass(frozen=True)
class FusionReport:
    loras: tuple[LoraMatch, ...]
    fused_weights: int

    def summary(self) -> str:
        parts = [f"{Path(m.path).name} x{m.strength:g}: {m.matched} weights" for m in self.loras]
        return f"{self.fused_weights} weights fused (" + "; ".join(parts) + ")"


def _pairs(ckpt: Checkpoint) -> dict[str, tuple[str, str]]:
    """{module path: (A key, B key)} of a LoRA file; a lone A or B is an error."""
    keys = set(ckpt.keys())
    out: dict[str, tuple[str, str]] = {}
    lone = []
    for k in sorted(keys):
        if k.endswith(_A):
            module = k[: -len(_A)]
            if module + _B not in keys:
                lone.append(k)
                continue
            out[module[len(LORA_PREFIX):] if module.startswith(LORA_PREFIX) else module] = (k, module + _B)
        elif k.endswith(_B) and k[: -len(_B)] + _A not in keys:
            lone.append(k)
    if lone:
        raise LoraError(f"{ckpt.path}: LoRA factors without their partner (A/B): {', '.join(lone[:5])}")
    return out


def _target(module: str, key_ops: KeyOps | None) -> str | None:
    """Module key of the weight a LoRA module path adapts (None if the key ops do not select it)."""
    key = module + ".weight"
    if key_ops is None:
        return key
    if not isinstance(key_ops.prefix, str):
        raise ValueError("LoRA fusion needs key ops with a single string prefix")
    return key_ops.map_key(key_ops.prefix + key)


def _delta(a: mx.array, b: mx.array, strength: float, rule: str) -> mx.array:
    dt = mx.bfloat16 if rule == "bf16" else mx.float32
    # (B * strength) @ A keeps the official rounding order.
    return (b.astype(dt) * strength) @ a.astype(dt)


def fuse_loras(
    weights: Mapping[str, mx.array],
    loras: Sequence[tuple[LoraSource, float]],
    key_ops: KeyOps | None = None,
    rule: str = "float32",
    strict: bool = True,
) -> tuple[dict[str, mx.array], FusionReport]:
    """Return (new weight dict with the LoRAs fused, report). `weights` is not modified.

    weights: {module key: array} as the builder maps them; key_ops: the component's key ops, used to
    map LoRA module paths to module keys (None: LoRA paths are module keys already).
    strict: a LoRA key whose target weight is absent raises (else it is only reported).
    A LoRA that matches no weight at all always raises.
    """
    if rule not in RULES:
        raise ValueError(f"unknown LoRA fuse rule {rule!r}; valid: {', '.join(RULES)}")
    deltas: dict[str, mx.array] = {}
    matches = []
    for source, strength in loras:
        ckpt = source if isinstance(source, Checkpoint) else open_checkpoint(source)
        matched, unmatched = 0, []
        for module, (ka, kb) in _pairs(ckpt).items():
            target = _target(module, key_ops)
            if target is None or target not in weights:
                unmatched.append(ka)
                continue
            a, b = ckpt.tensor(ka), ckpt.tensor(kb)
            w_shape = tuple(weights[target].shape)
            if a.ndim != 2 or b.ndim != 2 or b.shape[1] != a.shape[0] or (b.shape[0], a.shape[1]) != w_shape[:2]:
                raise ShapeError(f"{ckpt.path}: LoRA {module}: B {tuple(b.shape)} @ A {tuple(a.shape)} does not "
                                 f"fit weight {target} of shape {w_shape}")
            d = _delta(a, b, strength, rule)
            if key_ops is not None and key_ops.axes_for(target) is not None:
                d = d.transpose(key_ops.mapped_shape(target, (0, 1)))
            deltas[target] = d if target not in deltas else deltas[target] + d
            matched += 1
        if matched == 0:
            raise LoraError(f"{ckpt.path}: LoRA matches no weight of the model ({len(unmatched)} LoRA modules, "
                            f"e.g. {', '.join(unmatched[:3]) or 'none'}); is it for this model?")
        if unmatched and strict:
            raise LoraError(f"{ckpt.path}: {len(unmatched)} LoRA modules match no model weight, e.g. "
                            f"{', '.join(unmatched[:5])}")
        matches.append(LoraMatch(str(ckpt.path), float(strength), matched, tuple(unmatched)))
    fused = dict(weights)
    for key, d in deltas.items():
        w = weights[key]
        if rule == "bf16":
            fused[key] = (d.astype(mx.float32) + w.astype(mx.float32)).astype(mx.bfloat16).astype(w.dtype)
        else:
            fused[key] = (w.astype(mx.float32) + d).astype(w.dtype)
    report = FusionReport(tuple(matches), len(deltas))
    log.info("LoRA fusion: %s", report.summary())
    return fused, report


def check_lora_fits(lora: LoraSource, model: LoraSource, prefix: str = "model.diffusion_model.") -> int:
    """Check a LoRA against a model file from their headers alone (no tensor is read): every A/B pair
    must target a weight of the model (`prefix` + module + `.weight`) with the shape B @ A gives.
    Returns how many weights it adapts; raises LoraError naming the first mismatches."""
    lo = lora if isinstance(lora, Checkpoint) else open_checkpoint(lora)
    ckpt = model if isinstance(model, Checkpoint) else open_checkpoint(model)
    pairs = _pairs(lo)
    if not pairs:
        raise LoraError(f"{lo.path}: not a LoRA (no lora_A/lora_B weight pairs)")
    missing, bad = [], []
    for module, (ka, kb) in pairs.items():
        target = prefix + module + ".weight"
        a, b = lo.shape(ka), lo.shape(kb)
        if target not in ckpt:
            missing.append(module)
        elif len(a) != 2 or len(b) != 2 or b[1] != a[0] or (b[0], a[1]) != ckpt.shape(target)[:2]:
            bad.append(f"{module}: B {b} @ A {a} vs weight {ckpt.shape(target)}")
    if missing:
        raise LoraError(f"{lo.path}: {len(missing)} of {len(pairs)} LoRA modules have no weight in {ckpt.path.name}, "
                        f"e.g. {', '.join(missing[:3])}; is the LoRA for this model?")
    if bad:
        raise LoraError(f"{lo.path}: LoRA shapes do not fit {ckpt.path.name}: {'; '.join(bad[:3])}")
    return len(pairs)
