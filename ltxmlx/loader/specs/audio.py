"""Audio family: audio VAE decoder / encoder (+ shared latent statistics) and the vocoder.

Layout changes from PyTorch: Conv2d (O, I, kh, kw) -> (O, kh, kw, I); Conv1d and the 1-channel
filter / STFT-basis buffers (O, I, k) -> (O, k, I); ConvTranspose1d (I, O, k) -> (O, k, I).
"""

from __future__ import annotations

from ltxmlx.loader.key_ops import KeyOps
from ltxmlx.loader.specs import ComponentSpec
from ltxmlx.model.audio_vae import AudioDecoder, AudioEncoder, AudioVAEConfig, VocoderConfig, build_vocoder

_STATS = "audio_vae.per_channel_statistics."

# Only the two statistics the model uses; real files may carry more (e.g. mean-of-stds), which the
# official loader ignores too.
_STATS_IGNORE = (r"^per_channel_statistics\.(?!(mean|std)-of-means$)",)
_STATS_RENAMES = ((r"\.mean-of-means$", ".mean_of_means"), (r"\.std-of-means$", ".std_of_means"))
_CONV2D = ((r"\.weight$", (0, 2, 3, 1)),)


def _vae_ops(part: str) -> KeyOps:
    return KeyOps(
        prefix={f"audio_vae.{part}.": "", _STATS: "per_channel_statistics."},
        ignore=_STATS_IGNORE,
        renames=_STATS_RENAMES,
        transposes=_CONV2D,
    )


VOCODER_KEY_OPS = KeyOps(
    # Strip exactly one "vocoder.": 22B keys keep their inner "vocoder." / "bwe_generator." / "mel_stft.".
    prefix="vocoder.",
    transposes=(
        (r"(^|\.)ups\.\d+\.weight$", (1, 2, 0)),
        (r"(\.weight|\.filter|_stft\.stft_fn\.\w+_basis)$", (0, 2, 1)),
    ),
)

SPECS = {
    "audio_decoder": ComponentSpec(
        name="audio_decoder",
        key_ops=_vae_ops("decoder"),
        make=lambda config: AudioDecoder(AudioVAEConfig.from_config(config)),
    ),
    "audio_encoder": ComponentSpec(
        name="audio_encoder",
        key_ops=_vae_ops("encoder"),
        make=lambda config: AudioEncoder(AudioVAEConfig.from_config(config)),
    ),
    "vocoder": ComponentSpec(
        name="vocoder",
        key_ops=VOCODER_KEY_OPS,
        make=lambda config: build_vocoder(VocoderConfig.from_config(config)),
        # The 22B (BWE) vocoder's module keys all start with one of these; it always runs in float32.
        # 19B HiFi-GAN keys (conv_pre, ups, ...) do not match and follow the run dtype.
        keep_float32=(r"^(vocoder|bwe_generator|mel_stft)\.",),
    ),
}
