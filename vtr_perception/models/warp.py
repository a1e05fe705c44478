"""Warping camera-aligned volumes into the reference frame (pose-aware fusion).

Each view is decoded in a cube aligned with its camera optical frame (x right, y down,
z forward), centred on the object, of half side ``h``. The reference grid is the canonical
cube [-0.5, 0.5]^3 (voxel (i, j, k) = (x, y, z), centres at -0.5 + (i + 0.5) / R). A
reference point p_ref lies at p_cam = R_ref_cam^T p_ref in the camera cube. Samples
outside the camera cube read zeros (empty space).

Two implementations of the same trilinear sampling: ``F.grid_sample`` (fast, used for
training and eager inference) and an explicit gather form used while exporting, because
ONNX opset 17's GridSample is 2D only; the gather form exports to any opset. Tests check
that both agree with a numpy reference.
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
    """Sample ``volume`` (N, C, r, r, r), covering [-h, h]^3, at ``points`` (N, P, 3) -> (N, C, P), via gathers.

    Voxel centres sit at -h + (i + 0.5) * 2h / r (the ``align_corners=False`` convention);
    outside the grid the volume is zero. The voxels are gathered as rows of an (N r^3 + 1, C)
    table whose last row is zero, and outside corners index that row: no masks or expands,
    which makes the exported graph about twice as fast in ONNX Runtime as a masked gather.
    """
    n, c, r = volume.shape[0], volume.shape[1], volume.shape[-1]
    rows = volume.reshape(n, c, r * r * r).transpose(1, 2).reshape(-1, c)
    rows = torch.cat([rows, rows.new_zeros(1, c)], 0)
    zero_row = rows.shape[0] - 1
    u = (points / half_extent + 1.0) * (r / 2.0) - 0.5  # continuous voxel index per axis
    u0 = torch.floor(u)
    f1 = u - u0
    f0 = 1.0 - f1
    i0 = u0.to(torch.int64)
    base = (torch.arange(n, device=volume.device) * (r**3)).view(n, 1)
    out = None
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                ix, iy, iz = i0[..., 0] + dx, i0[..., 1] + dy, i0[..., 2] + dz
                inside = (ix >= 0) & (ix < r) & (iy >= 0) & (iy < r) & (iz >= 0) & (iz < r)
                linear = torch.where(inside, base + (ix * r + iy) * r + iz, zero_row)
                w = (f1[..., 0] if dx else f0[..., 0]) * (f1[..., 1] if dy else f0[..., 1])
                w = w * (f1[..., 2] if dz else f0[..., 2])
                term = rows[linear.reshape(-1)].reshape(n, -1, c) * w.unsqueeze(-1)
                out = term if out is None else out + term
    return out.transpose(1, 2)


def sample_grid_sample(volume: torch.Tensor, points: torch.Tensor, *, half_extent: float) -> torch.Tensor:
    """Same as ``sample_trilinear`` with ``F.grid_sample`` (whose grid is ordered (W, H, D) = (k, j, i))."""
    grid = (points / half_extent).flip(-1).unsqueeze(1).unsqueeze(1)  # (N, 1, 1, P, 3)
    out = F.grid_sample(volume, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.flatten(2)


def exporting() -> bool:
    """True while torch.onnx / torch.export traces the model (use the export-friendly gather form)."""
    compiler = getattr(torch, "compiler", None)
    return bool(torch.onnx.is_in_onnx_export() or (compiler is not None and compiler.is_exporting()))


def warp_to_reference(
    volume: torch.Tensor,
    rotations: torch.Tensor,
    *,
    half_extent: float,
    resolution: int,
    use_gather: bool | None = None,
) -> torch.Tensor:
    """Resample camera-cube volumes (N, C, r, r, r) into the reference cube [-0.5, 0.5]^3 at ``resolution``.

    ``rotations`` (N, 3, 3) are R_ref_camera. Output (N, C, resolution, resolution, resolution).
    """
    n, c = volume.shape[0], volume.shape[1]
    p_ref = reference_points(resolution).to(device=volume.device, dtype=volume.dtype)
    # p_cam = R^T p_ref for every point; as row vectors p_cam = p_ref @ R
    p_cam = torch.matmul(p_ref.unsqueeze(0), rotations.to(volume.dtype))
    gather = exporting() if use_gather is None else use_gather
    sample = sample_trilinear if gather else sample_grid_sample
    return sample(volume, p_cam, half_extent=half_extent).reshape(n, c, resolution, resolution, resolution)
