"""A test double of the Backend protocol: returns a fixed (true) occupancy grid for every call."""

from __future__ import annotations

import numpy as np

from vtr_perception.infer.base import Backend, ModelInfo, check_inputs


class FixedShapeBackend:
    """Answers every view set with ``occupancy`` (what a perfect model of one known object would say)."""

    name = "fixed-shape-double"

    def __init__(self, occupancy: np.ndarray, *, mode: str = "pose_aware", image_size: int = 32) -> None:
        R = occupancy.shape[0]
        self.info = ModelInfo(image_size=image_size, resolution=R, mode=mode, view_extent=0.5, max_views=8)
        self.occupancy = occupancy.astype(np.float32)
        self.calls: list[tuple[np.ndarray, np.ndarray | None]] = []

    def run(self, images: np.ndarray, rotations: np.ndarray | None = None) -> dict[str, np.ndarray]:
        images, rotations = check_inputs(self.info, images, rotations)
        self.calls.append((images, rotations))
        B, V = images.shape[:2]
        R = self.info.resolution
        occ = np.broadcast_to(self.occupancy, (B, R, R, R)).copy()
        return {
            "occupancy": occ,
            "error": np.zeros_like(occ),
            "view_occupancy": np.broadcast_to(occ[:, None], (B, V, R, R, R)).copy(),
            "view_pose": np.tile(np.array([0.0, 1.0, 0.0, 1.0], dtype=np.float32), (B, V, 1)),
        }


assert isinstance(FixedShapeBackend(np.zeros((4, 4, 4))), Backend)
