"""ReconstructorConfig: the one description of a reconstructor's architecture.

Stored inside every checkpoint, so a checkpoint rebuilds its own model. Sizes are
named presets (``size``) rather than free channel lists, so a Jetson-sized and a
GPU-sized model are one flag apart and the ONNX export sees a known shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# size -> encoder widths per stride-2 stage, decoder widths from 4^3 up (each doubles the side, so the per-view
# volume side is 4 * 2^len(decoder)), refiner widths, context channels. "small" decodes each view at 16^3 and
# lets the warp (trilinear) bring it to the output grid: per-view 3D work is the CPU cost that matters.
SIZE_PRESETS: dict[str, dict] = {
    "small": dict(encoder=(16, 32, 64, 128), latent=256, decoder=(32, 16), refiner=(8, 32, 64), context=8),
    "large": dict(encoder=(32, 64, 128, 256), latent=512, decoder=(64, 32, 16), refiner=(16, 64, 128), context=16),
}
IMAGE_SIZES = (32, 64, 128, 256)


@dataclass
class ReconstructorConfig:
    """Architecture of the multi-view voxel reconstructor (Pix2Vox++ class)."""

    mode: Literal["pose_aware", "canonical"] = field(
        default="pose_aware",
        metadata={
            "help": "fusion mode: pose_aware decodes each view in its camera-aligned cube and warps it into the "
            "reference frame with the given rotations; canonical predicts in the object's canonical frame (no poses)"
        },
    )
    size: Literal["small", "large"] = field(
        default="small", metadata={"help": "network widths: small (CPU training, Jetson inference) or large (GPU)"}
    )
    image_size: int = field(default=64, metadata={"help": "square input image side in pixels (32, 64, 128 or 256)"})
    resolution: int = field(default=32, metadata={"help": "output voxel grid side (a multiple of 8)"})
    camera_cube_half_extent: float = field(
        default=0.75,
        metadata={
            "help": "pose_aware: half side of the camera-aligned cube each view is decoded in. The canonical cube's "
            "corners reach 0.866 from the centre; 0.75 clips only those far corners, while a larger cube spends "
            "voxels on empty space (coarser effective resolution)"
        },
    )
    pretrained_encoder: str | None = field(
        default=None,
        metadata={"help": "local path of a state dict for the 2D image encoder (nothing is downloaded)"},
    )

    def __post_init__(self) -> None:
        if self.mode not in ("pose_aware", "canonical"):
            raise ValueError(f"ReconstructorConfig.mode must be 'pose_aware' or 'canonical', got {self.mode!r}")
        if self.size not in SIZE_PRESETS:
            raise ValueError(f"ReconstructorConfig.size must be one of {sorted(SIZE_PRESETS)}, got {self.size!r}")
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"ReconstructorConfig.image_size must be one of {IMAGE_SIZES}, got {self.image_size}")
        if self.resolution < 8 or self.resolution % 8:
            raise ValueError(f"ReconstructorConfig.resolution must be a multiple of 8 (>= 8), got {self.resolution}")
        if not 0.5 <= self.camera_cube_half_extent <= 2.0:
            raise ValueError(
                f"ReconstructorConfig.camera_cube_half_extent must be in [0.5, 2.0], got {self.camera_cube_half_extent}"
            )

    @property
    def widths(self) -> dict:
        return SIZE_PRESETS[self.size]

    @property
    def view_resolution(self) -> int:
        """Side of each view's decoded volume (before warping / resampling to ``resolution``)."""
        return min(4 * 2 ** len(self.widths["decoder"]), self.resolution)
