"""Which Linear layers stay in the run dtype: relative RMS error of a transformer forward per candidate
table, for the tiny model and a full-size LTX-2.3 layer (random weights), int8 and int4.

Each candidate keeps some groups of Linear layers unquantized (`ltxmlx.loader.quantize.KEEP` is the
chosen one). CPU: ``python bench/quant_table.py`` (a few minutes; ``--skip-full`` for the tiny model only).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402  (sets the MLX environment before MLX loads)

import mlx.core as mx  # noqa: E402
from mlx.utils import tree_flatten, tree_unflatten  # noqa: E402

from bench.transformer_step import make_inputs, random_bf16_model  # noqa: E402
from ltxmlx.loader import quantize  # noqa: E402
from ltxmlx.model.transformer import TransformerConfig  # noqa: E402

MANIFEST = ROOT / "tests" / "fixtures" / "manifest_ltx23_22b.json"
ADALN = r"adaln_single\."
IO = (r"^(audio_)?patchify_proj$", r"^(audio_)?proj_out$", r"caption_projection\.")
GATES = (r"\.to_gate_logits$",)
# The patchify projection and first timestep-embedder layer are always kept (the model reads their dtype).
REQUIRED = (r"^(audio_)?patchify_proj$", r"timestep_embedder\.linear_1$")
CANDIDATES = {
    "all": (),
    "keep_adaln": (ADALN,),
    "keep_adaln_io": (ADALN, *IO),
    "keep_adaln_io_gates": (ADALN, *IO, *GATES),
    "keep_io_gates": (*IO, *GATES),
}


def rel_rms(a: mx.array, b: mx.array) -> float:
    a, b = a.astype(mx.float32), b.astype(mx.float32)
    return float(mx.sqrt(mx.mean((a - b) ** 2) / mx.mean(b**2)).item())


def error(model, inputs, keep: tuple[str, ...], mode: str, ref) -> dict:
    saved = dict(tree_flatten(model.parameters()))
    q = quantize.QUANT_MODES[mode]
    quantize.KEEP["transformer"] = tuple(keep) + REQUIRED
    layers = quantize.plan(model, "transformer", q)
    weights = quantize.quantize_weights(saved, layers)
    quantize.swap_layers(model, layers)
    model.load_weights(list(weights.items()), strict=True)
    v, a = model(*inputs)
    out = {"video": round(100 * rel_rms(v, ref[0]), 3), "audio": round(100 * rel_rms(a, ref[1]), 3),
           "quantized_layers": len(layers)}
    restored = type(model)(model.cfg)
    restored.update(tree_unflatten(list(saved.items())))
    return out, restored


def run(model, inputs) -> dict:
    original_keep = quantize.KEEP["transformer"]
    ref = model(*inputs)
    mx.eval(ref)
    rows = {}
    for name, keep in CANDIDATES.items():
        for mode in ("int8", "int4"):
            rows[f"{name}/{mode}"], model = error(model, inputs, keep, mode, ref)
            print(name, mode, rows[f"{name}/{mode}"], flush=True)
    quantize.KEEP["transformer"] = original_keep
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--tokens", default="4,8,8", help="latent frames,height,width of the full-size video")
    args = ap.parse_args()
    raw = dict(json.loads(MANIFEST.read_text())["metadata"]["config"]["transformer"])
    record = {}
    # Tiny: the test model's widths (group size 32 where 64 does not divide), 2 layers.
    tiny = dict(raw, num_layers=2, num_attention_heads=4, attention_head_dim=32, cross_attention_dim=128,
                audio_num_attention_heads=4, audio_attention_head_dim=16, audio_cross_attention_dim=64,
                caption_channels=96, in_channels=16, out_channels=16, audio_in_channels=16, audio_out_channels=16)
    for name, cfg_raw, grid, ta, s in [("tiny", tiny, (2, 4, 4), 8, 16)] + (
            [] if args.skip_full else [("full_layer", dict(raw, num_layers=1),
                                        tuple(int(t) for t in args.tokens.split(",")), 32, 64)]):
        cfg = TransformerConfig.from_config(cfg_raw)
        model = random_bf16_model(cfg)
        model.update(tree_unflatten([(k, v.astype(mx.float32)) for k, v in tree_flatten(model.parameters())]))
        video, audio = make_inputs(cfg, grid, ta, s, 1, mx.random.key(1))
        inputs = (dataclasses.replace(video, context=video.context.astype(mx.float32)),
                  dataclasses.replace(audio, context=audio.context.astype(mx.float32)))
        print(f"== {name}", flush=True)
        record[name] = run(model, inputs)
    write_results("quant_table", {"small": args.skip_full, "rel_rms_percent": record})


if __name__ == "__main__":
    main()
