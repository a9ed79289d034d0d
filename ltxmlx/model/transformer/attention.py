"""Multi-head attention with full-width q/k RMSNorm, split RoPE, optional per-head gating."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltxmlx.errors import ShapeError
from ltxmlx.model.transformer.rope import apply_split_rope


class Attention(nn.Module):
    """``to_q/to_k/to_v/to_out.0`` linears, ``q_norm/k_norm`` RMSNorm over all heads at once.

    gated: adds ``to_gate_logits`` (query_dim -> heads); each head's output is scaled by
    ``2*sigmoid(logit)`` before ``to_out`` (LTX-2.3).
    """

    def __init__(
        self,
        query_dim: int,
        context_dim: int | None,
        heads: int,
        dim_head: int,
        gated: bool = False,
        norm_eps: float = 1e-6,
    ):
        super().__init__()
        inner = heads * dim_head
        context_dim = query_dim if context_dim is None else context_dim
        self.heads, self.dim_head = heads, dim_head
        self.query_dim, self.context_dim = query_dim, context_dim
        self.q_norm = nn.RMSNorm(inner, eps=norm_eps)
        self.k_norm = nn.RMSNorm(inner, eps=norm_eps)
        self.to_q = nn.Linear(query_dim, inner)
        self.to_k = nn.Linear(context_dim, inner)
        self.to_v = nn.Linear(context_dim, inner)
        if gated:
            self.to_gate_logits = nn.Linear(query_dim, heads)
        self.to_out = [nn.Linear(inner, query_dim)]

    @property
    def gated(self) -> bool:
        return "to_gate_logits" in self

    def _heads(self, x: mx.array) -> mx.array:
        """(B, T, H*Dh) -> (B, T, H, Dh), a free reshape; RoPE runs in this layout."""
        b, t, _ = x.shape
        return x.reshape(b, t, self.heads, self.dim_head)

    def __call__(
        self,
        x: mx.array,
        context: mx.array | None = None,
        pe: tuple[mx.array, mx.array] | None = None,
        k_pe: tuple[mx.array, mx.array] | None = None,
        mask: mx.array | None = None,
        keep: mx.array | None = None,
        skip_attention: bool = False,
    ) -> mx.array:
        """x: (B, T, query_dim); context: (B, S, context_dim) or None for self-attention.

        pe / k_pe: (cos, sin) each (B, T|S, heads, dim_head/2); k_pe defaults to pe.
        mask: additive (or boolean) mask broadcastable to (B, heads, T, S).
        keep: (B, 1, 1) perturbation keep-mask, ``out = attn*keep + to_v(context)*(1-keep)``.
        skip_attention: every sample perturbed: ``out = to_v(context)``, q/k never computed.
        Returns (B, T, query_dim).
        """
        context = x if context is None else context
        if x.ndim != 3 or x.shape[-1] != self.query_dim:
            raise ShapeError(f"attention query: expected (B, T, {self.query_dim}), got {tuple(x.shape)}")
        if context.ndim != 3 or context.shape[-1] != self.context_dim or context.shape[0] != x.shape[0]:
            raise ShapeError(
                f"attention context: expected ({x.shape[0]}, S, {self.context_dim}), got {tuple(context.shape)}"
            )
        b, t, _ = x.shape
        v = self.to_v(context)
        if skip_attention:
            out = v
        else:
            q = self._heads(self.q_norm(self.to_q(x)))
            k = self._heads(self.k_norm(self.to_k(context)))
            if pe is not None:
                q = apply_split_rope(q, *pe)
                k = apply_split_rope(k, *(pe if k_pe is None else k_pe))
            # SDPA takes (B, H, T, Dh) views of the token-major tensors and writes its output in q's
            # memory layout, so transposing back to (B, T, H*Dh) needs no copy.
            q, k, vh = (a.transpose(0, 2, 1, 3) for a in (q, k, self._heads(v)))
            out = mx.fast.scaled_dot_product_attention(q, k, vh, scale=self.dim_head**-0.5, mask=mask)
            out = out.transpose(0, 2, 1, 3).reshape(b, t, -1)
            if keep is not None:
                out = out * keep + v * (1 - keep)
        if self.gated:
            gates = 2.0 * mx.sigmoid(self.to_gate_logits(x))
            out = (out.reshape(b, t, self.heads, self.dim_head) * gates[..., None]).reshape(b, t, -1)
        return self.to_out[0](out)
