"""The multi-view voxel reconstructor: encoder -> decoder -> (warp) -> fusion -> refiner -> heads.

    images (B, V, 3, S, S) in [0, 1] --encoder--> per-view features --pose head--> view_pose (B, V, 4)
      --decoder--> per-view coarse volume + context features (camera cube or canonical cube)
      --pose_aware: warp with R_ref_camera into the reference cube--> view_occupancy (B, V, R, R, R)
      --context-aware fusion--> fused --refiner--> occupancy (B, R, R, R)
      --error head (refiner features, occupancy, view disagreement; detached)--> error (B, R, R, R)

Every op works per view or reduces across views with softmax / mean, so any V >= 1 and
any B work, and the graph has no data-dependent control flow (ONNX export with dynamic
batch and view axes).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vtr_perception.models.config import ReconstructorConfig
from vtr_perception.models.decoder import VolumeDecoder
from vtr_perception.models.encoder import ImageEncoder, PoseHead
from vtr_perception.models.fusion import ContextFusion
from vtr_perception.models.refiner import ErrorHead, Refiner
from vtr_perception.models.warp import warp_to_reference

OUTPUT_NAMES = ("occupancy", "error", "view_occupancy", "view_pose")


class Reconstructor(nn.Module):
    """Pix2Vox++-class multi-view reconstructor with pose and error heads (see module docstring)."""

    def __init__(self, config: ReconstructorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ReconstructorConfig()
        w = config.widths
        self.encoder = ImageEncoder(w["encoder"], config.image_size)
        if config.pretrained_encoder:
            self.encoder.load_pretrained(config.pretrained_encoder)
        self.pose_head = PoseHead(self.encoder.out_channels)
        self.decoder = VolumeDecoder(
            self.encoder.out_channels,
            latent=w["latent"],
            widths=w["decoder"],
            context=w["context"],
            resolution=config.view_resolution,
        )
        self.fusion = ContextFusion(w["context"])
        self.refiner = Refiner(2, w["refiner"])
        self.error_head = ErrorHead(self.refiner.out_channels + 2)

    @property
    def pose_aware(self) -> bool:
        return self.config.mode == "pose_aware"

    def check_inputs(self, images: torch.Tensor, rotations: torch.Tensor | None) -> None:
        s = self.config.image_size
        if images.dim() != 5 or images.shape[2] != 3 or images.shape[3] != s or images.shape[4] != s:
            raise ValueError(f"images must be (B, V, 3, {s}, {s}) float in [0, 1], got {tuple(images.shape)}")
        if self.pose_aware:
            if rotations is None:
                raise ValueError("a pose_aware reconstructor needs rotations (B, V, 3, 3) R_ref_camera")
            if rotations.dim() != 4 or rotations.shape[-2:] != (3, 3) or rotations.shape[:2] != images.shape[:2]:
                raise ValueError(
                    f"rotations must be (B, V, 3, 3) matching images {tuple(images.shape[:2])}, "
                    f"got {tuple(rotations.shape)}"
                )

    def forward(self, images: torch.Tensor, rotations: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        self.check_inputs(images, rotations)
        b, v = images.shape[0], images.shape[1]
        r = self.config.resolution
        features = self.encoder(images.flatten(0, 1))
        view_pose = self.pose_head(features).reshape(b, v, 4)

        coarse_logits, context = self.decoder(features)
        per_view = torch.cat([torch.sigmoid(coarse_logits), context], dim=1)
        if self.pose_aware:
            assert rotations is not None
            per_view = warp_to_reference(
                per_view, rotations.flatten(0, 1), half_extent=self.config.camera_cube_half_extent, resolution=r
            )
        elif per_view.shape[-1] != r:
            per_view = F.interpolate(per_view, size=(r, r, r), mode="trilinear", align_corners=False)
        view_occupancy = per_view[:, 0].reshape(b, v, r, r, r)
        context = per_view[:, 1:].reshape(b, v, -1, r, r, r)

        fused = self.fusion(view_occupancy, context)
        mean_view = view_occupancy.mean(dim=1, keepdim=True)
        disagreement = ((view_occupancy - mean_view) ** 2).mean(dim=1)
        logits, refined = self.refiner(torch.stack([fused, disagreement], dim=1))
        occupancy = torch.sigmoid(logits)

        # Detached: the error head reads the reconstruction, it does not shape it.
        error_input = torch.cat([refined, occupancy, disagreement.unsqueeze(1)], dim=1).detach()
        error = self.error_head(error_input)
        return {
            "occupancy": occupancy[:, 0],
            "error": error[:, 0],
            "view_occupancy": view_occupancy,
            "view_pose": view_pose,
        }


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
