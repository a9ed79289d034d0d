"""Benchmark: full-size audio decode (audio VAE decoder + vocoder) of each generation, random weights.

5.04 s of audio: latent (1, 8, 126, 16) -> mel (1, 2, 501, 64) -> 24 kHz (19B HiFi-GAN) or 48 kHz
(22B BigVGAN-v2 + bandwidth extension) stereo. Weights as the loader builds them: bf16 decoder and 19B
vocoder, float32 22B vocoder. Cases per generation: decoder alone, vocoder alone, and `decode_audio`
(both). Each: first call (graph build, kernel JIT, conv plans), warm-ups, then timed runs ending in
`mx.eval`; median ms and peak memory (reset per case).

    python bench/audio_decode.py              # on the GPU machine
    python bench/audio_decode.py --small      # CPU smoke run with narrow vocoders, a short clip, float32

`--snake auto,composed` adds the 22B rows with the anti-aliased SnakeBeta built from MLX ops instead of
the fused CUDA kernel (`ltxmlx/model/audio_vae/snake_kernel.py`), for an A/B in one process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402  (sets the MLX environment before MLX loads)

import mlx.core as mx  # noqa: E402
from mlx.utils import tree_flatten, tree_unflatten  # noqa: E402

from ltxmlx.model.audio_vae import AudioDecoder, AudioVAEConfig, VocoderConfig, build_vocoder, decode_audio  # noqa: E402
from ltxmlx.model.audio_vae import snake_kernel  # noqa: E402

MANIFESTS = {"19b": "manifest_ltx2_19b.json", "22b": "manifest_ltx23_22b.json"}
GB = 1024**3


def load_config(gen: str, small: bool) -> dict:
    meta = json.loads((ROOT / "tests" / "fixtures" / MANIFESTS[gen]).read_text())["metadata"]
    config = meta["config"] if isinstance(meta["config"], dict) else json.loads(meta["config"])
    if small:  # narrow generators; the decoder and the chain's structure stay full-size
        voc = config["vocoder"]
        for part in (voc["vocoder"], voc["bwe"]) if "bwe" in voc else (voc,):
            part["upsample_initial_channel"] //= 8
    return config


def randomize(module, dtype: mx.Dtype, seed: int) -> None:
    """N(0, 0.02) weights in `dtype` (kernels do not depend on the values)."""
    params = tree_flatten(module.parameters())
    keys = mx.random.split(mx.random.key(seed), len(params))
    new = [(name, (mx.random.normal(p.shape, key=k) * 0.02).astype(dtype)) for (name, p), k in zip(params, keys)]
    module.update(tree_unflatten(new))
    mx.eval(module.parameters())


@contextlib.contextmanager
def snake_path(variant: str):
    """'auto': the fused kernel where it runs; 'composed': the MLX-op activation everywhere."""
    if variant not in ("auto", "composed"):
        raise SystemExit(f"--snake: unknown variant {variant!r} (auto, composed)")
    saved = snake_kernel.available
    if variant == "composed":
        snake_kernel.available = lambda x: False
    try:
        yield
    finally:
        snake_kernel.available = saved


def time_case(fn, warmups: int, runs: int) -> dict:
    mx.synchronize()
    mx.reset_peak_memory()
    t0 = time.perf_counter()
    mx.eval(fn())
    mx.synchronize()
    first = time.perf_counter() - t0
    for _ in range(warmups):
        mx.eval(fn())
    mx.synchronize()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        mx.eval(fn())
        mx.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return {
        "median_ms": statistics.median(times),
        "runs_ms": [round(t, 3) for t in times],
        "first_call_ms": first * 1e3,
        "peak_gb": mx.get_peak_memory() / GB,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="narrow vocoders, 2 latent frames, float32 (CPU smoke run)")
    parser.add_argument("--gens", default="19b,22b")
    parser.add_argument("--warmups", type=int, default=2)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--snake", default="auto", help="comma list of auto, composed (see above)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.runs < 5 and not args.small:
        parser.error("--runs: at least 5 timed runs")

    frames = 2 if args.small else 126
    half = mx.float32 if args.small else mx.bfloat16  # bf16 convolutions are slow on the CPU
    results = []
    for gen in args.gens.split(","):
        config = load_config(gen, args.small)
        decoder = AudioDecoder(AudioVAEConfig.from_config(config))
        randomize(decoder, half, seed=0)
        vocoder_config = VocoderConfig.from_config(config)
        vocoder = build_vocoder(vocoder_config)
        # As the loader builds them: the BWE vocoder always float32, the HiFi-GAN in the pipeline dtype.
        randomize(vocoder, mx.float32 if vocoder_config.bwe is not None else half, seed=1)
        latent = mx.random.normal((1, decoder.config.z_channels, frames, decoder.config.latent_mel_bins),
                                  key=mx.random.key(2)).astype(half)
        mel = decoder(latent)
        mx.eval(mel)
        cases = {  # models bound now: the loop drops them at the end of each generation
            "decoder": lambda d=decoder: d(latent),
            "vocoder": lambda v=vocoder: v(mel),
            "decode_audio": lambda d=decoder, v=vocoder: decode_audio(latent, d, v)[0],
        }
        samples = decode_audio(latent, decoder, vocoder)[0].shape[-1]
        amp = vocoder_config.bwe is not None or vocoder_config.generator.amp
        runs = [(v, n, f) for v in (args.snake.split(",") if amp else ["auto"]) for n, f in cases.items()
                if n != "decoder" or v == args.snake.split(",")[0]]
        for variant, name, fn in runs:
            row = {
                "gen": gen,
                "case": name,
                "snake": ("fused" if mx.cuda.is_available() else "composed") if variant == "auto" else variant,
                "latent": list(latent.shape),
                "mel": list(mel.shape),
                "samples": samples,
                "sample_rate": vocoder.output_sampling_rate,
                "vocoder_dtype": str(tree_flatten(vocoder.parameters())[0][1].dtype),
            }
            with snake_path(variant):
                row.update(time_case(fn, args.warmups, args.runs))
            results.append(row)
            print(json.dumps(row), flush=True)
        del decoder, vocoder
        mx.clear_cache()

    write_results("audio_decode", {"small": args.small, "results": results}, args.out)


if __name__ == "__main__":
    main()
