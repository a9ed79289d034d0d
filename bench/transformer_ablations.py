"""Ablations of the transformer forward for `transformer_step.py --ablate`: where the time outside the
matrix products and attention goes.

Each ablation replaces one family of elementwise or normalisation passes by the identity for the
duration of a `with ablated(name):` block (module attributes looked up at call time, so a built model is
reused). The outputs are meaningless; the timings show what each family costs, and `elementwise` (all of
them at once) leaves the forward's matrix products, attention, residual adds and the work outside the
blocks: the floor that fusing the listed passes could reach.
"""

from __future__ import annotations

import contextlib

import mlx.nn as nn

from ltxmlx.model.transformer import attention, ops, transformer

# name -> [(owner, attribute, replacement)]
ABLATIONS = {
    "modulate": [(transformer, "modulate", lambda xn, scale, scale_bias, shift, shift_bias: xn)],
    "gated_residual": [(transformer, "gated_residual", lambda x, y, gate, gate_bias: x + y)],
    "block_rms": [(transformer, "rms", lambda x, eps: x)],
    "qk_norm": [(nn.RMSNorm, "__call__", lambda self, x: x)],
    "rope": [(attention, "apply_split_rope", lambda x, cos, sin: x)],
    "gelu": [(ops, "gelu_tanh", lambda x: x)],
}
ABLATIONS["elementwise"] = [patch for patches in list(ABLATIONS.values()) for patch in patches]
NAMES = ("full", *ABLATIONS)


@contextlib.contextmanager
def ablated(name: str):
    """'full': the model as it is; otherwise the ABLATIONS entry's passes removed."""
    if name != "full" and name not in ABLATIONS:
        raise SystemExit(f"--ablate: unknown {name!r} (one of {', '.join(NAMES)})")
    patches = ABLATIONS.get(name, [])
    saved = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in patches]
    try:
        for owner, attr, replacement in patches:
            setattr(owner, attr, replacement)
        yield
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)
