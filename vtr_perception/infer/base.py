"""The inference backend interface: every runtime returns the same named outputs.

A backend runs the exported reconstructor on a batch of object view sets:

    images     float32 (B, V, 3, H, W), RGB in [0, 1], object-centred crops on the
               training background (see geometry/renderer.BACKGROUND_RGB)
    rotations  float32 (B, V, 3, 3), R_ref_camera per view (pose-aware models only;
               None for canonical models)

and returns numpy arrays keyed by OUTPUT_NAMES (see docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

INPUT_NAMES = ("images", "rotations")
OUTPUT_NAMES = ("occupancy", "error", "view_occupancy", "view_pose")


@dataclass(frozen=True)
class ModelInfo:
    """What a caller must know to feed a backend and read its outputs."""

    image_size: int
    resolution: int
    mode: str  # "pose_aware" | "canonical"
    view_extent: float  # half-extent of the per-view camera-aligned cube (canonical units)
    max_views: int = 8

    @property
    def needs_rotations(self) -> bool:
        return self.mode == "pose_aware"


@runtime_checkable
class Backend(Protocol):
    """A loaded reconstructor on some runtime."""

    name: str
    info: ModelInfo

    def run(self, images: np.ndarray, rotations: np.ndarray | None = None) -> dict[str, np.ndarray]: ...


def check_inputs(
    info: ModelInfo, images: np.ndarray, rotations: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate shapes and dtypes once, for every backend; returns contiguous float32 arrays."""
    images = np.ascontiguousarray(images, dtype=np.float32)
    if images.ndim != 5 or images.shape[2] != 3 or images.shape[3:] != (info.image_size, info.image_size):
        raise ValueError(
            f"images must be (B, V, 3, {info.image_size}, {info.image_size}) float32, got {tuple(images.shape)}"
        )
    if images.shape[0] < 1 or images.shape[1] < 1:
        raise ValueError(f"images need at least one object and one view, got {tuple(images.shape)}")
    if info.needs_rotations:
        if rotations is None:
            raise ValueError("this pose-aware model needs camera rotations (B, V, 3, 3)")
        rotations = np.ascontiguousarray(rotations, dtype=np.float32)
        if rotations.shape != images.shape[:2] + (3, 3):
            raise ValueError(f"rotations must be {images.shape[:2] + (3, 3)}, got {tuple(rotations.shape)}")
    else:
        rotations = None
    return images, rotations
