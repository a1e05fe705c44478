"""The "zero123" synthesizer: a real Zero-1-to-3 checkpoint in diffusers format from a local directory.

Layout of the community ``Zero1to3StableDiffusionPipeline`` (as in kxic/zero123-xl):
``unet/`` (UNet2DConditionModel, 8 input channels: noisy latents + source-image latents),
``vae/`` (AutoencoderKL), ``image_encoder/`` (transformers CLIPVisionModelWithProjection),
``cc_projection/`` (Linear 768 + 4 -> 768 mapping [CLIP embedding, camera] to the
cross-attention context) and ``scheduler/``. Everything loads with
``local_files_only=True``; nothing is downloaded. The camera condition comes from
:func:`relative_camera`, i.e. relative to the source view, never the absolute target angles.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn
from tqdm import tqdm

from vtr_perception.train.synthesis.base import ViewSynthesizer, relative_camera
from vtr_perception.train.synthesis.diffusion import resize

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REQUIRED_PARTS = ("unet", "vae", "image_encoder", "cc_projection", "scheduler")
_CLIP_MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
_CLIP_STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)


class CCProjection(ModelMixin, ConfigMixin):
    """Zero-1-to-3's camera/CLIP projection (same parameter names as the community pipeline)."""

    @register_to_config
    def __init__(self, in_channel: int = 772, out_channel: int = 768):
        super().__init__()
        self.in_channel = in_channel
        self.out_channel = out_channel
        self.projection = nn.Linear(in_channel, out_channel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(x)


def check_zero123_dir(model_dir: str | Path) -> Path:
    """The checkpoint directory, or a ValueError listing exactly what is missing."""
    path = Path(model_dir).expanduser()
    if not path.is_dir():
        raise ValueError(
            f"zero123 checkpoint directory {path} does not exist; give a local copy of a diffusers "
            f"Zero-1-to-3 checkpoint (e.g. kxic/zero123-xl) with {', '.join(REQUIRED_PARTS)}"
        )
    missing = []
    for part in REQUIRED_PARTS:
        folder = path / part
        config = "scheduler_config.json" if part == "scheduler" else "config.json"
        if not folder.is_dir():
            missing.append(f"{part}/")
            continue
        if not (folder / config).is_file():
            missing.append(f"{part}/{config}")
        if part != "scheduler" and not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
            missing.append(f"{part}/ weights (*.safetensors or *.bin)")
    if missing:
        raise ValueError(f"zero123 checkpoint directory {path} is missing: {', '.join(missing)}")
    return path


class Zero123Synthesizer(ViewSynthesizer):
    """Novel views from a local Zero-1-to-3 checkpoint (DDIM, classifier-free guidance)."""

    name = "zero123"

    def __init__(
        self,
        model_dir: str | Path,
        *,
        num_inference_steps: int = 50,
        guidance_scale: float = 3.0,
        batch_size: int = 4,
        image_size: int | None = None,
        seed: int = 0,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ):
        path = check_zero123_dir(model_dir)
        try:
            from transformers import CLIPVisionModelWithProjection
        except ImportError as exc:
            raise ValueError(
                "the zero123 synthesizer needs the `transformers` package for its CLIP image encoder "
                "(pip install transformers); the other synthesizers do not"
            ) from exc
        # float32 throughout: transformers 5 loads in the checkpoint's saved dtype by default
        # (dtype="auto"), diffusers in float32, so a half-precision image_encoder/ would feed
        # float16 CLIP embeddings into the float32 cc_projection and fail.
        kw = {"local_files_only": True, "dtype": torch.float32}
        self.device = torch.device(device)
        self.unet = UNet2DConditionModel.from_pretrained(path, subfolder="unet", **kw).to(self.device).eval()
        self.vae = AutoencoderKL.from_pretrained(path, subfolder="vae", **kw).to(self.device).eval()
        self.image_encoder = (
            CLIPVisionModelWithProjection.from_pretrained(path / "image_encoder", **kw).to(self.device).eval()
        )
        self.cc_projection = CCProjection.from_pretrained(path, subfolder="cc_projection", **kw).to(self.device).eval()
        self.scheduler = DDIMScheduler.from_pretrained(path, subfolder="scheduler", local_files_only=True)
        if self.unet.config.in_channels != 2 * self.vae.config.latent_channels:
            raise ValueError(
                f"{path}/unet takes {self.unet.config.in_channels} channels; a Zero-1-to-3 UNet takes "
                f"2 x {self.vae.config.latent_channels} (noisy latents + source latents)"
            )
        self.num_inference_steps = num_inference_steps
        self.guidance_scale = guidance_scale
        self.batch_size = batch_size
        # The checkpoint's own resolution unless told otherwise, as the diffusers pipelines do:
        # UNet latent size x VAE downsampling (32 x 8 = 256 for kxic/zero123-xl).
        vae_scale = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.image_size = int(image_size) if image_size is not None else self.unet.config.sample_size * vae_scale
        self.seed = seed
        self.progress = progress

    @torch.no_grad()
    def _context(self, images: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
        clip_size = self.image_encoder.config.image_size
        pixels = (resize(images, clip_size) - _CLIP_MEAN.to(images)) / _CLIP_STD.to(images)
        embeds = self.image_encoder(pixel_values=pixels).image_embeds[:, None]  # (n, 1, D)
        return self.cc_projection(torch.cat([embeds, camera[:, None].to(embeds)], dim=-1))

    @torch.no_grad()
    def _sample(self, images: torch.Tensor, camera: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = images.shape[0]
        context = self._context(images, camera)
        source = resize(images, self.image_size) * 2.0 - 1.0
        source_latents = self.vae.encode(source).latent_dist.mode()
        guided = self.guidance_scale > 1.0
        if guided:  # unconditional branch: zero context and zero source latents, as in the pipeline
            context = torch.cat([torch.zeros_like(context), context])
            source_latents = torch.cat([torch.zeros_like(source_latents), source_latents])
        self.scheduler.set_timesteps(self.num_inference_steps, device=self.device)
        latents = torch.randn((n, *source_latents.shape[1:]), generator=generator).to(self.device)
        latents = latents * self.scheduler.init_noise_sigma
        for t in self.scheduler.timesteps:
            x = torch.cat([latents, latents]) if guided else latents
            x = torch.cat([self.scheduler.scale_model_input(x, t), source_latents], dim=1)
            eps = self.unet(x, t, encoder_hidden_states=context).sample
            if guided:
                uncond, cond = eps.chunk(2)
                eps = uncond + self.guidance_scale * (cond - uncond)
            latents = self.scheduler.step(eps, t, latents).prev_sample
        decoded = self.vae.decode(latents / self.vae.config.scaling_factor).sample
        return ((decoded + 1.0) / 2.0).clamp(0.0, 1.0)

    def _synthesize(self, source_images, source_az_el, target_az_el, *, object_keys: Sequence[str] | None):
        n, _, h, w = source_images.shape
        camera = relative_camera(source_az_el, target_az_el)
        out = torch.empty((n, 3, h, w), dtype=torch.float32)
        starts = list(range(0, n, self.batch_size))
        for b, s in enumerate(tqdm(starts, desc="zero123 synthesis", disable=not self.progress)):
            generator = torch.Generator().manual_seed(self.seed * 100003 + b)
            images = source_images[s : s + self.batch_size].to(self.device)
            generated = self._sample(images, camera[s : s + self.batch_size], generator)
            out[s : s + self.batch_size] = resize(generated, h, w).cpu()
        return out
