"""Pose-aware warp: against a numpy trilinear reference and an analytic 90-degree rotation."""

from __future__ import annotations

import numpy as np
import torch

from vtr_perception.models.warp import reference_points, warp_to_reference


def numpy_warp(volume: np.ndarray, rotation: np.ndarray, half_extent: float, resolution: int) -> np.ndarray:
    """Plain-loop trilinear sampling of one (C, r, r, r) camera-cube volume at the reference voxel centres."""
    c, r = volume.shape[0], volume.shape[-1]
    out = np.zeros((c, resolution, resolution, resolution))
    centres = (np.arange(resolution) + 0.5) / resolution - 0.5
    for a, x in enumerate(centres):
        for b, y in enumerate(centres):
            for d, z in enumerate(centres):
                p_cam = rotation.T @ np.array([x, y, z])
                u = (p_cam / half_extent + 1.0) * r / 2.0 - 0.5
                base = np.floor(u).astype(int)
                for corner in np.ndindex(2, 2, 2):
                    idx = base + corner
                    if np.any(idx < 0) or np.any(idx >= r):
                        continue
                    w = np.prod(np.where(np.array(corner) == 1, u - base, 1.0 - (u - base)))
                    out[:, a, b, d] += w * volume[:, idx[0], idx[1], idx[2]]
    return out


def test_warp_matches_numpy_reference() -> None:
    rng = np.random.default_rng(3)
    volume = rng.random((2, 2, 6, 6, 6)).astype(np.float32)
    q, _ = np.linalg.qr(rng.normal(size=(2, 3, 3)))
    rotations = (q * np.sign(np.linalg.det(q))[:, None, None]).astype(np.float32)
    got = warp_to_reference(
        torch.from_numpy(volume), torch.from_numpy(rotations), half_extent=0.75, resolution=5
    ).numpy()
    for n in range(2):
        np.testing.assert_allclose(got[n], numpy_warp(volume[n], rotations[n], 0.75, 5), atol=1e-5)


def test_identity_with_matching_cube_is_exact() -> None:
    volume = torch.rand(1, 1, 8, 8, 8)
    out = warp_to_reference(volume, torch.eye(3)[None], half_extent=0.5, resolution=8)
    torch.testing.assert_close(out, volume)


def test_ninety_degree_rotation_moves_a_voxel_where_expected() -> None:
    """A blob at +x of the camera cube, with the camera x axis = reference +y, lands at reference +y."""
    r = 8
    volume = torch.zeros(1, 1, r, r, r)
    volume[0, 0, 6, 3:5, 3:5] = 1.0  # camera x > 0, centred in y and z
    # R_ref_camera columns are the camera axes in the reference frame: x_cam -> +y_ref, y_cam -> -x_ref, z_cam -> z
    rotation = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])[None]
    out = warp_to_reference(volume, rotation, half_extent=0.5, resolution=r)[0, 0]
    expected = torch.zeros(r, r, r)
    expected[3:5, 6, 3:5] = 1.0  # reference y > 0, centred in x and z
    torch.testing.assert_close(out, expected)


def test_outside_the_camera_cube_is_empty() -> None:
    volume = torch.ones(1, 1, 4, 4, 4)
    out = warp_to_reference(volume, torch.eye(3)[None], half_extent=0.25, resolution=8)[0, 0]
    centres = reference_points(8)
    inside = (centres.abs() < 0.25).all(dim=1).reshape(8, 8, 8)
    # exactly zero away from the cube; on its boundary plane (u = -1 or r) the row coordinate's float error
    # (the image is (r + 2) (r + 4) rows tall) leaves ~1e-6 of the edge voxel
    assert float(out[~inside].abs().max()) <= 1e-5
    assert float(out[inside].min()) > 0.0


def test_far_outside_the_camera_cube_is_exactly_empty() -> None:
    volume = torch.ones(1, 3, 4, 4, 4)
    rotation = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])[None]
    out = warp_to_reference(volume, rotation, half_extent=0.2, resolution=16)[0]
    centres = reference_points(16)
    far = (centres.abs() > 0.3).any(dim=1).reshape(16, 16, 16)
    assert float(out[:, far].abs().max()) == 0.0
