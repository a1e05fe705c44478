"""Warping camera-aligned volumes into the reference frame (pose-aware fusion).

Each view is decoded in a cube aligned with its camera optical frame (x right, y down,
z forward), centred on the object, of half side ``h``. The reference grid is the canonical
cube [-0.5, 0.5]^3 (voxel (i, j, k) = (x, y, z), centres at -0.5 + (i + 0.5) / R). A
reference point p_ref lies at p_cam = R_ref_cam^T p_ref in the camera cube. Samples
outside the camera cube read zeros (empty space).

The trilinear sampling is written as 2-D bilinear sampling (``F.grid_sample`` on 4-D
tensors) of the two x-slices around each point, blended along x. One form serves training,
eager inference and export: 4-D GridSample is in ONNX from opset 16 and in TensorRT from
8.6, while 5-D GridSample is not in opset 17 and is several times slower in ONNX Runtime
than this form (docs/experiments.md has the timings).
``sample_grid_sample`` (5-D) stays as the reference the tests compare against.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def reference_points(resolution: int, *, half_extent: float = 0.5) -> torch.Tensor:
    """(R^3, 3) voxel centres of a cube of half side ``half_extent``, ordered (i, j, k) = (x, y, z), k fastest."""
    c = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution * (2 * half_extent) - half_extent
    x, y, z = torch.meshgrid(c, c, c, indexing="ij")
    return torch.stack([x, y, z], dim=-1).reshape(-1, 3)


def sample_trilinear(volume: torch.Tensor, points: torch.Tensor, *, half_extent: float) -> torch.Tensor:
    """Sample ``volume`` (N, C, r, r, r), covering [-h, h]^3, at ``points`` (N, P, 3) -> (N, C, P).

    Voxel centres sit at -h + (i + 0.5) * 2h / r (the ``align_corners=False`` convention);
    outside the grid the volume is zero. The volume is laid out as an image whose rows are
    (x, y) pairs and whose columns are z, with one zero slice before and after the x slices and
    two zero rows before and after each slice's y rows, so bilinear sampling within one slice
    never blends into the next. Indices beyond the grid are clamped into the padding, half a
    row clear of the data, so float error in the row coordinate cannot leak data into samples
    that must be exactly zero; z beyond the grid is GridSample's zero padding.
    """
    n, c, r = volume.shape[0], volume.shape[1], volume.shape[-1]
    slice_rows = r + 4
    image = F.pad(volume, (0, 0, 2, 2, 1, 1)).reshape(n, c, (r + 2) * slice_rows, r)
    u = (points / half_extent + 1.0) * (r / 2.0) - 0.5  # continuous voxel index per axis
    ux = u[..., 0].clamp(-1.0, float(r)) + 1.0  # padded slice index in [0, r + 1]
    uy = u[..., 1].clamp(-1.5, r + 0.5) + 2.0  # padded row index in [0.5, r + 2.5]
    x0 = torch.floor(ux).clamp(max=float(r))  # keeps x0 + 1 inside the padding
    fx = ux - x0
    rows = torch.stack([x0 * slice_rows + uy, (x0 + 1.0) * slice_rows + uy], dim=1)  # (N, 2, P)
    grid_rows = (rows + 0.5) * (2.0 / ((r + 2) * slice_rows)) - 1.0
    grid_cols = ((u[..., 2] + 0.5) * (2.0 / r) - 1.0).unsqueeze(1).expand_as(grid_rows)
    grid = torch.stack([grid_cols, grid_rows], dim=-1)  # GridSample orders (W, H)
    slices = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)  # (N, C, 2, P)
    return slices[:, :, 0] * (1.0 - fx).unsqueeze(1) + slices[:, :, 1] * fx.unsqueeze(1)


def sample_grid_sample(volume: torch.Tensor, points: torch.Tensor, *, half_extent: float) -> torch.Tensor:
    """Same as ``sample_trilinear`` with 5-D ``F.grid_sample`` (whose grid is ordered (W, H, D) = (k, j, i))."""
    grid = (points / half_extent).flip(-1).unsqueeze(1).unsqueeze(1)  # (N, 1, 1, P, 3)
    out = F.grid_sample(volume, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.flatten(2)


def warp_to_reference(
    volume: torch.Tensor,
    rotations: torch.Tensor,
    *,
    half_extent: float,
    resolution: int,
) -> torch.Tensor:
    """Resample camera-cube volumes (N, C, r, r, r) into the reference cube [-0.5, 0.5]^3 at ``resolution``.

    ``rotations`` (N, 3, 3) are R_ref_camera. Output (N, C, resolution, resolution, resolution).
    """
    n, c = volume.shape[0], volume.shape[1]
    p_ref = reference_points(resolution).to(device=volume.device, dtype=volume.dtype)
    # p_cam = R^T p_ref for every point; as row vectors p_cam = p_ref @ R
    p_cam = torch.matmul(p_ref.unsqueeze(0), rotations.to(volume.dtype))
    out = sample_trilinear(volume, p_cam, half_extent=half_extent)
    return out.reshape(n, c, resolution, resolution, resolution)
