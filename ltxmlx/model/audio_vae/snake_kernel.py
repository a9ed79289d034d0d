"""The anti-aliased SnakeBeta activation as one GPU kernel (CUDA).

`Activation1d` composes it from MLX ops: edge pad, a depthwise transposed convolution (x2 kaiser-sinc
upsample), the SnakeBeta formula, edge pad and a depthwise strided convolution (x2 lowpass downsample):
two grouped convolutions and about eight elementwise launches, each writing a (B, 2T, C) intermediate.
The 22B vocoder and its bandwidth extension run about 200 of these per clip. Here every output sample is
computed in one pass from the input it depends on: 12 downsample taps, each over a SnakeBeta of one
upsampled sample, itself 6 upsample taps of the edge-clamped input. Float32 arithmetic, the order of the
composed ops; nothing in between is written to memory.

Index math (channels-last x (B, T, C), 12-tap filters, ratio 2; `n` clamps to [0, 2T) as the edge pad of
the upsampled signal, `i` to [0, T) as the edge pad of the input):

    out[t]  = sum_k down[k] * snake(up[n]),   n = clamp(2t + k - 5)
    up[n]   = 2 * sum_{j = (n + 15) mod 2, step 2} upf[j] * x[clamp((n + 15 - j) / 2 - 5)]
    snake(u) = u + sin(u * exp(alpha))^2 / (exp(beta) + 1e-9)

Only the CUDA backend runs it; the CPU and Metal backends keep the composed ops (same math).
"""

from __future__ import annotations

import functools

import mlx.core as mx

TAPS = 12
RATIO = 2
# Left edge pad of the downsample filter's input (kernel_size // 2 - 1 for an even filter).
DOWN_PAD = TAPS // 2 - 1
# Input edge pad and left crop of the transposed convolution (see antialias.UpSample1d).
UP_PAD = TAPS // RATIO - 1
UP_CROP = UP_PAD * RATIO + (TAPS - RATIO) // 2

_SOURCE = f"""
    const int total = x_shape[0] * x_shape[1] * x_shape[2];
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) return;
    const int C = x_shape[2];
    const int T = x_shape[1];
    const int c = idx % C;
    const int t = (idx / C) % T;
    const T_IN* xs = x + (idx / C - t) * C + c;
    const float a = expf((float)alpha[c]);
    const float inv_b = 1.0f / (expf((float)beta[c]) + 1e-9f);
    float acc = 0.0f;
    for (int k = 0; k < {TAPS}; ++k) {{
        const int n = min(max(2 * t + k - {DOWN_PAD}, 0), 2 * T - 1);
        const int m = n + {UP_CROP};
        float u = 0.0f;
        for (int j = m & 1; j < {TAPS}; j += 2) {{
            const int i = min(max((m - j) / 2 - {UP_PAD}, 0), T - 1);
            u += upf[j] * (float)xs[i * C];
        }}
        u *= {RATIO}.0f;
        const float s = sinf(u * a);
        acc += downf[k] * (u + inv_b * (s * s));
    }}
    out[idx] = (T_IN)acc;
"""


@functools.cache
def _kernel():
    return mx.fast.cuda_kernel(
        name="ltxmlx_anti_aliased_snake",
        input_names=["x", "upf", "downf", "alpha", "beta"],
        output_names=["out"],
        source=_SOURCE,
    )


def available(x: mx.array) -> bool:
    """True where the kernel runs: the CUDA backend, a (B, T, C) float32 input on the GPU stream."""
    return (
        mx.default_device() == mx.gpu
        and mx.cuda.is_available()
        and x.ndim == 3
        and x.dtype == mx.float32
    )


def anti_aliased_snake(
    x: mx.array, up_filter: mx.array, down_filter: mx.array, alpha: mx.array, beta: mx.array
) -> mx.array:
    """x (B, T, C) float32; 12-tap filters (any shape of 12 values); alpha, beta (C,) in log scale.

    Returns (B, T, C): what upsample x2 -> SnakeBeta -> lowpass downsample x2 returns.
    """
    (out,) = _kernel()(
        inputs=[
            x,
            up_filter.reshape(TAPS).astype(mx.float32),
            down_filter.reshape(TAPS).astype(mx.float32),
            alpha.astype(mx.float32),
            beta.astype(mx.float32),
        ],
        template=[("T_IN", x.dtype)],
        grid=(x.size, 1, 1),
        threadgroup=(256, 1, 1),
        output_shapes=[x.shape],
        output_dtypes=[x.dtype],
    )
    return out
