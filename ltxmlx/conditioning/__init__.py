"""Latent conditioning: first-frame replacement, appended keyframes, denoise masks, image preparation."""

from ltxmlx.conditioning.denoise_mask import post_process_latent, timesteps_from_mask
from ltxmlx.conditioning.image_preprocess import preprocess_image, resize_and_center_crop
from ltxmlx.conditioning.keyframe_cond import condition_by_keyframe
from ltxmlx.conditioning.latent_cond import condition_by_latent_index

__all__ = [
    "condition_by_keyframe", "condition_by_latent_index", "post_process_latent", "preprocess_image",
    "resize_and_center_crop", "timesteps_from_mask",
]
