"""The view-synthesizer interface and the one home of the relative-camera conversion.

VTR chooses target viewpoints as absolute angles in the object's canonical (voxel) frame,
but a novel-view model such as Zero-1-to-3 is conditioned on the camera *relative to the
source view*. The official VTR code passes absolute angles straight through (the "frame
trap"); here every synthesizer goes through :func:`relative_camera`.

Zero-1-to-3 convention (zero123/ldm/data/simple.py ``get_T``, and the diffusers community
pipeline's pose embedding): the camera is described by polar angle theta (from +z, so
theta = 90 deg - elevation), azimuth and radius, and the condition is
``[theta_target - theta_source (rad), sin(d_az), cos(d_az), r_target - r_source]`` with
``d_az = (az_target - az_source) mod 360``. A positive d_theta moves the camera *down*.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch


def _as_az_el(values, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(values, dtype=np.float64) if not torch.is_tensor(values) else values)
    t = t.to(torch.float64)
    if t.ndim != 2 or t.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2) as (azimuth_deg, elevation_deg), got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} holds NaN or infinite angles")
    return t


def relative_angles_deg(
    source_az_el, target_az_el, *, source_radius: float = 0.0, target_radius: float = 0.0
) -> torch.Tensor:
    """(N, 3) Zero-1-to-3 relative camera in degrees: (d_polar, d_azimuth in [0, 360), d_radius).

    d_polar = polar_target - polar_source = elevation_source - elevation_target.
    """
    src = _as_az_el(source_az_el, "source_az_el")
    tgt = _as_az_el(target_az_el, "target_az_el")
    if src.shape != tgt.shape:
        raise ValueError(f"source_az_el {tuple(src.shape)} and target_az_el {tuple(tgt.shape)} differ in shape")
    d_polar = (90.0 - tgt[:, 1]) - (90.0 - src[:, 1])
    d_az = torch.remainder(tgt[:, 0] - src[:, 0], 360.0)
    d_r = torch.full_like(d_polar, float(target_radius) - float(source_radius))
    return torch.stack([d_polar, d_az, d_r], dim=1)


def relative_camera(
    source_az_el, target_az_el, *, source_radius: float = 0.0, target_radius: float = 0.0
) -> torch.Tensor:
    """(N, 4) float32 condition [d_polar (rad), sin d_az, cos d_az, d_radius], as Zero-1-to-3 encodes it.

    Angles are absolute in the canonical frame, in degrees, shape (N, 2) = (azimuth, elevation).
    Our renders all sit at the same distance, so d_radius is 0 unless radii are given.
    """
    rel = relative_angles_deg(source_az_el, target_az_el, source_radius=source_radius, target_radius=target_radius)
    d_polar = torch.deg2rad(rel[:, 0])
    d_az = torch.deg2rad(rel[:, 1])
    return torch.stack([d_polar, torch.sin(d_az), torch.cos(d_az), rel[:, 2]], dim=1).to(torch.float32)


class ViewSynthesizer(ABC):
    """Makes images of an object at new viewpoints from one source image each."""

    name: str = "synthesizer"

    def synthesize(
        self,
        source_images: torch.Tensor,
        source_az_el,
        target_az_el,
        *,
        object_keys: Sequence[str] | None = None,
    ) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] at ``target_az_el`` from ``source_images`` (N, 3, H, W) in [0, 1].

        Angles are absolute (azimuth_deg, elevation_deg) in the canonical frame, shape (N, 2).
        ``object_keys`` name the objects (needed by the render synthesizer and by caches).
        """
        images = torch.as_tensor(source_images)
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"source_images must have shape (N, 3, H, W), got {tuple(images.shape)}")
        src = _as_az_el(source_az_el, "source_az_el")
        tgt = _as_az_el(target_az_el, "target_az_el")
        n = images.shape[0]
        if src.shape[0] != n or tgt.shape[0] != n:
            raise ValueError(
                f"need one source and one target angle per image: {n} images, "
                f"{src.shape[0]} source angles, {tgt.shape[0]} target angles"
            )
        if object_keys is not None and len(object_keys) != n:
            raise ValueError(f"object_keys has {len(object_keys)} entries for {n} images")
        if n == 0:
            return images.new_zeros((0, 3, images.shape[2], images.shape[3]), dtype=torch.float32)
        out = self._synthesize(images.float().clamp(0.0, 1.0), src, tgt, object_keys=object_keys)
        if out.shape != (n, 3, images.shape[2], images.shape[3]):
            raise RuntimeError(f"{self.name} returned shape {tuple(out.shape)}, expected {(n, 3, *images.shape[2:])}")
        return out

    @abstractmethod
    def _synthesize(
        self,
        source_images: torch.Tensor,
        source_az_el: torch.Tensor,
        target_az_el: torch.Tensor,
        *,
        object_keys: Sequence[str] | None,
    ) -> torch.Tensor:
        """Checked inputs: float images in [0, 1], (N, 2) float64 angles."""
