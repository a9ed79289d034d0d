"""Text encoding throughput: full-size Gemma 3 12B (random weights, bf16 and 4-bit) + the LTX-2.3
embeddings processor, prompts per second one at a time vs batched, and peak memory.

Every prompt is left padded to 1024 tokens, as the official encoder does; valid lengths are drawn
between 40 and 250 tokens (seeded). Prints a table and writes JSON under bench/results/.
CPU smoke run (tiny Gemma, 128 tokens): ``python bench/text_encode.py --small``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402  (sets the MLX environment before MLX loads)

import mlx.core as mx  # noqa: E402
from mlx import nn  # noqa: E402

from ltxmlx.loader.checkpoint import open_checkpoint
from ltxmlx.text_encoders.gemma.config import Gemma3TextConfig
from ltxmlx.text_encoders.gemma.embeddings_processor import (
    EmbeddingsProcessor,
    EmbeddingsProcessorConfig,
)
from ltxmlx.text_encoders.gemma.encoder import hidden_states
from ltxmlx.text_encoders.gemma.model import Gemma3TextModel
from ltxmlx.text_encoders.gemma.tiny import TINY_MAX_LENGTH, tiny_gemma_config

FIXTURES = ROOT / "tests" / "fixtures"
GIB = 1024**3


def configs(small: bool) -> tuple[dict, dict, int]:
    """(Gemma config.json dict, LTX file config, text length)."""
    if small:
        ltx = open_checkpoint(FIXTURES / "parity" / "22b" / "tiny_22b.safetensors").config
        return tiny_gemma_config(260), ltx, TINY_MAX_LENGTH
    gemma = json.loads((FIXTURES / "manifest_gemma3_12b.json").read_text())["config"]
    ltx = json.loads((FIXTURES / "manifest_ltx23_22b.json").read_text())["metadata"]["config"]
    return gemma, ltx, 1024


def build_random(gemma_cfg: dict, ltx_cfg: dict, bits: int, dtype: mx.Dtype):
    """Random-weight Gemma (optionally quantized, group 64) and processor, evaluated part by part
    so that float32 init never holds the whole 12B model at once."""
    cfg = Gemma3TextConfig.from_config(gemma_cfg)
    gemma = Gemma3TextModel(cfg)
    gemma.set_dtype(dtype)
    if bits:
        nn.quantize(gemma, group_size=64, bits=bits)
    for part in [gemma.embed_tokens, *gemma.layers, gemma.norm]:
        mx.eval(part.parameters())
    pcfg = EmbeddingsProcessorConfig.from_config(ltx_cfg, cfg.hidden_size, cfg.num_hidden_states)
    processor = EmbeddingsProcessor(pcfg)
    processor.set_dtype(dtype)
    mx.eval(processor.parameters())
    return cfg, gemma, processor


def make_batch(rng: np.random.Generator, n: int, length: int, vocab: int, small: bool) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = (5, 60) if small else (40, 250)
    ids = np.zeros((n, length), np.int32)
    mask = np.zeros((n, length), np.int32)
    for row in range(n):
        k = int(rng.integers(lo, hi))
        ids[row, length - k:] = rng.integers(3, vocab, size=k)
        ids[row, length - k] = 2  # <bos>
        mask[row, length - k:] = 1
    return ids, mask


def encode(gemma, processor, ids, mask, trim: bool):
    emb = processor(hidden_states(gemma, ids, mask, trim), mx.array(mask))
    mx.eval(emb.video, emb.audio)


def run_mode(gemma, processor, cfg, length, prompts: int, batch: int, small: bool, seed: int, trim: bool) -> dict:
    rng = np.random.default_rng(seed)
    batches = [make_batch(rng, min(batch, prompts - i), length, cfg.vocab_size, small) for i in range(0, prompts, batch)]
    encode(gemma, processor, *batches[0], trim)  # warm-up (kernel compilation, allocator)
    mx.synchronize()
    mx.reset_peak_memory()
    start = time.perf_counter()
    for ids, mask in batches:
        encode(gemma, processor, ids, mask, trim)
    mx.synchronize()
    elapsed = time.perf_counter() - start
    return {"batch_size": batch, "trim_padding": trim, "prompts": prompts, "seconds": elapsed, "prompts_per_s": prompts / elapsed,
            "peak_memory_gib": mx.get_peak_memory() / GIB}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="tiny Gemma on 128 tokens (CPU smoke run)")
    ap.add_argument("--quant", default="bf16,4bit", help="comma list of bf16, 8bit, 4bit")
    ap.add_argument("--prompts", type=int, default=16, help="prompts per measured mode")
    ap.add_argument("--batch-sizes", default="1,4,16", help="comma list; 1 = one prompt at a time")
    ap.add_argument("--trim", default="off,on", help="comma list: off = official 1024 columns, on = trim_padding")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results/text_encode[_small].json)")
    args = ap.parse_args()

    gemma_cfg, ltx_cfg, length = configs(args.small)
    results = []
    for quant in args.quant.split(","):
        bits = {"bf16": 0, "8bit": 8, "4bit": 4}[quant]
        mx.reset_peak_memory()
        t0 = time.perf_counter()
        cfg, gemma, processor = build_random(gemma_cfg, ltx_cfg, bits, mx.bfloat16)
        load_s = time.perf_counter() - t0
        weights_gib = mx.get_active_memory() / GIB
        modes = [(t == "on", int(b)) for t in args.trim.split(",") for b in args.batch_sizes.split(",")]
        for trim, bs in modes:
            r = run_mode(gemma, processor, cfg, length, args.prompts, bs, args.small, args.seed, trim)
            r.update(quant=quant, weights_gib=weights_gib, init_s=load_s)
            results.append(r)
            print(f"{quant:>5} trim {'on ' if trim else 'off'} batch {bs:>3}: {r['prompts_per_s']:8.2f} prompts/s  "
                  f"({r['seconds'] / args.prompts * 1000:8.1f} ms/prompt)  peak {r['peak_memory_gib']:7.2f} GiB  "
                  f"weights {weights_gib:6.2f} GiB", flush=True)
        del gemma, processor
        mx.clear_cache()

    write_results("text_encode", {
        "small": args.small, "text_length": length,
        "gemma": "tiny" if args.small else "gemma-3-12b (random weights)", "processor": "ltx-2.3 22b (random)",
        "results": results,
    }, args.out)


if __name__ == "__main__":
    main()
