"""The official PyTorch audio decode (audio VAE decoder + vocoder) with random full-size weights.

The other side of `audio_decode.py`: the same latent shape (1, 8, 126, 16) = 5.04 s, the official
`decode_audio(latent, AudioDecoder, Vocoder)`, each model built by its official configurator from the
key manifest's metadata (tests/fixtures) and filled with seeded N(0, 0.02) values, in the dtypes the
official pipeline uses on CUDA: bf16 decoder and bf16 vocoder (its bandwidth-extension vocoder computes in
float32 under autocast). First call, warm-ups, then timed calls bracketed by `torch.cuda.synchronize()`;
medians. A benchmark harness for the official code only: torch and ltx_core are imported from
`--official-src`, and nothing in the project imports this file.

    python bench/official_audio.py --official-src DIR [--gens 19b,22b] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = {"19b": "manifest_ltx2_19b.json", "22b": "manifest_ltx23_22b.json"}
LATENT = (1, 8, 126, 16)


def metadata(gen: str) -> dict:
    meta = json.loads((ROOT / "tests" / "fixtures" / MANIFESTS[gen]).read_text())["metadata"]
    config = meta["config"] if isinstance(meta["config"], dict) else json.loads(meta["config"])
    return {"config": config}


def randomize(torch, module, dtype, device, seed: int):
    generator = torch.Generator(device=device).manual_seed(seed)
    module.to(device=device, dtype=dtype)
    with torch.no_grad():
        for p in list(module.parameters()) + [b for b in module.buffers() if b.is_floating_point()]:
            p.copy_(torch.randn(p.shape, generator=generator, device=device, dtype=torch.float32) * 0.02)
    return module.eval()


def time_call(torch, fn, warmups: int, runs: int) -> dict:
    cuda = torch.cuda.is_available()
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    fn()
    sync()
    first = time.perf_counter() - t0
    for _ in range(warmups):
        fn()
    sync()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": statistics.median(times), "runs_ms": [round(t, 3) for t in times],
            "first_call_ms": first * 1e3, "peak_gb": torch.cuda.max_memory_allocated() / 1e9 if cuda else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official-src", required=True, type=Path, help="folder holding ltx_core/")
    parser.add_argument("--gens", default="19b,22b")
    parser.add_argument("--warmups", type=int, default=2)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "official_audio.json")
    args = parser.parse_args()
    sys.path.insert(0, str(args.official_src.resolve()))
    sys.path.insert(0, str(ROOT))
    import torch

    from bench.official_distilled import stub_missing_modules
    stub_missing_modules({"torchaudio": {}})  # imported by the audio encoder's mel transform, unused here
    from ltx_core.model.audio_vae.audio_vae import decode_audio
    from ltx_core.model.audio_vae.model_configurator import AudioDecoderConfigurator, VocoderConfigurator

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # CPU: a smoke run only
    results = []
    with torch.inference_mode():
        for gen in args.gens.split(","):
            meta = metadata(gen)
            decoder = randomize(torch, AudioDecoderConfigurator.from_metadata(meta), torch.bfloat16, device, 0)
            vocoder = randomize(torch, VocoderConfigurator.from_metadata(meta), torch.bfloat16, device, 1)
            latent = torch.randn(LATENT, generator=torch.Generator(device=device).manual_seed(2),
                                 device=device).to(torch.bfloat16)
            mel = decoder(latent)
            cases = {"decoder": lambda: decoder(latent), "vocoder": lambda: vocoder(mel),
                     "decode_audio": lambda: decode_audio(latent, decoder, vocoder)}
            samples = decode_audio(latent, decoder, vocoder).waveform.shape[-1]
            for name, fn in cases.items():
                row = {"gen": gen, "case": name, "latent": list(LATENT), "mel": list(mel.shape),
                       "samples": samples, "sample_rate": vocoder.output_sampling_rate,
                       **time_call(torch, fn, args.warmups, args.runs)}
                results.append(row)
                print(json.dumps(row), flush=True)
            del decoder, vocoder, mel
            torch.cuda.empty_cache()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    payload = {"benchmark": "official_audio", "device": name,
               "torch": torch.__version__, "platform": platform.platform(), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
