"""Depth as a real RGB-D sensor measures it: axial noise, quantisation, holes and flying pixels.

A profile names a sensor. ``apply_depth_noise`` turns a rendered (perfect) depth image into what
that sensor would report, NaN where it reports nothing:

- axial noise: Gaussian with sigma(z) = ``sigma_base_m`` + ``sigma_quadratic`` * z^2, as stereo and
  structured-light sensors grow their error with distance squared (disparity noise of a fixed
  fraction of a pixel);
- quantisation to ``quantisation_m`` (1 mm: 16UC1 depth in millimetres);
- holes where the surface is seen at a grazing angle (incidence beyond ``grazing_deg``) and, with
  probability ``edge_dropout``, at depth edges (a jump of more than ``edge_jump_m`` to a neighbour);
- flying pixels: with probability ``flying_pixels``, an edge pixel not dropped takes a depth between
  the foreground and the background;
- a sparse random dropout (``dropout``) and the valid range (``min_range_m``, ``max_range_m``);
- a registration offset: depth shifted by ``registration_px`` pixels against colour, as a
  factory-calibrated depth-to-colour alignment leaves it.

``realsense_d435`` follows the D435's stereo geometry (50 mm baseline, ~0.08 px subpixel disparity
noise at 640x480: sigma ~ 1.5 mm at 0.6 m, 4 mm at 1 m); ``kinect_v1`` is the Kinect's published
model (Nguyen, Izadi and Lovell 2012: 1.2 mm + 1.9 mm * (z - 0.4 m)^2, written here about z = 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vtr_perception.geometry.cameras import Intrinsics


@dataclass(frozen=True)
class DepthNoiseProfile:
    """One sensor's depth errors (see the module docstring for each field)."""

    name: str
    sigma_base_m: float
    sigma_quadratic: float  # metres of sigma per metre^2 of depth
    quantisation_m: float = 0.001
    grazing_deg: float = 78.0
    edge_jump_m: float = 0.02
    edge_dropout: float = 0.5
    flying_pixels: float = 0.3
    dropout: float = 0.005
    min_range_m: float = 0.2
    max_range_m: float = 4.0
    registration_px: tuple[int, int] = (1, 0)


PROFILES: dict[str, DepthNoiseProfile | None] = {
    "none": None,
    "realsense_d435": DepthNoiseProfile("realsense_d435", sigma_base_m=0.0005, sigma_quadratic=0.0042),
    "kinect_v1": DepthNoiseProfile(
        "kinect_v1", sigma_base_m=0.0015, sigma_quadratic=0.0019, min_range_m=0.45, registration_px=(2, 1)
    ),
}


def depth_noise_profile(name: str) -> DepthNoiseProfile | None:
    """The profile called ``name`` (None for "none"); ValueError naming the choices otherwise."""
    if name not in PROFILES:
        raise ValueError(f"unknown depth_noise {name!r}; expected one of {', '.join(PROFILES)}")
    return PROFILES[name]


def axial_sigma(profile: DepthNoiseProfile, depth_m: np.ndarray) -> np.ndarray:
    """The profile's standard deviation of depth (metres) at ``depth_m``."""
    return profile.sigma_base_m + profile.sigma_quadratic * np.square(depth_m)


def _shift(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``image`` moved by (dx, dy) pixels; uncovered pixels are NaN."""
    out = np.full_like(image, np.nan)
    h, w = image.shape
    src = image[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    out[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return out


def _smooth_side_difference(points: np.ndarray, axis: int) -> np.ndarray:
    """Per pixel, the forward or backward difference along ``axis``, whichever changes depth less: a depth edge
    does not tilt the surface on either side of it."""
    diff = np.diff(points, axis=axis)
    pad_first = [(0, 0)] * points.ndim
    pad_last = [(0, 0)] * points.ndim
    pad_first[axis], pad_last[axis] = (1, 0), (0, 1)
    backward = np.pad(diff, pad_first, mode="edge")
    forward = np.pad(diff, pad_last, mode="edge")
    take_forward = np.nan_to_num(np.abs(forward[..., 2]), nan=np.inf) < np.nan_to_num(
        np.abs(backward[..., 2]), nan=np.inf
    )
    return np.where(take_forward[..., None], forward, backward)


def incidence_cosine(depth: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """|cos| of the angle between each pixel's ray and the surface normal, from the depth image (NaN at holes)."""
    h, w = depth.shape
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    rays = np.stack([(u - intrinsics.cx) / intrinsics.fx, (v - intrinsics.cy) / intrinsics.fy, np.ones_like(u)], -1)
    points = rays * depth[..., None]
    normals = np.cross(_smooth_side_difference(points, axis=1), _smooth_side_difference(points, axis=0))
    norm = np.linalg.norm(normals, axis=-1) * np.linalg.norm(rays, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(np.einsum("hwc,hwc->hw", normals, rays)) / norm


def depth_edges(depth: np.ndarray, jump_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixels with a 4-neighbour more than ``jump_m`` farther (or missing), and that farthest neighbour's depth."""
    padded = np.pad(depth, 1, mode="edge")
    neighbours = np.stack(
        [padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]]
    )  # up, down, left, right
    far = np.where(np.isnan(neighbours), np.inf, neighbours).max(axis=0)
    edge = np.isfinite(depth) & (far - depth > jump_m)
    return edge, far


def apply_depth_noise(
    depth: np.ndarray, intrinsics: Intrinsics, profile: DepthNoiseProfile | None, rng: np.random.Generator
) -> np.ndarray:
    """What the sensor of ``profile`` reports for the true ``depth`` (metres, NaN = no return); float32.

    ``profile`` None returns the depth unchanged. The input is not modified.
    """
    depth = np.asarray(depth, dtype=np.float64)
    if profile is None:
        return depth.astype(np.float32, copy=True)
    if depth.shape != (intrinsics.height, intrinsics.width):
        raise ValueError(f"depth is {depth.shape}, the intrinsics say {(intrinsics.height, intrinsics.width)}")
    out = depth.copy()
    valid = np.isfinite(out) & (out > 0)
    out[~valid] = np.nan

    edge, far = depth_edges(out, profile.edge_jump_m)
    draw = rng.random(out.shape)
    drop_edge = edge & (draw < profile.edge_dropout)
    flying = edge & ~drop_edge & (draw < profile.edge_dropout + profile.flying_pixels * (1 - profile.edge_dropout))
    background = np.where(np.isfinite(far), far, out + 4 * profile.edge_jump_m)
    out = np.where(flying, out + rng.random(out.shape) * (background - out), out)

    cos = incidence_cosine(depth, intrinsics)
    grazing = np.nan_to_num(cos, nan=1.0) < np.cos(np.radians(profile.grazing_deg))

    out = out + rng.standard_normal(out.shape) * axial_sigma(profile, np.nan_to_num(out))
    if profile.quantisation_m > 0:
        out = np.round(out / profile.quantisation_m) * profile.quantisation_m
    holes = drop_edge | grazing | (rng.random(out.shape) < profile.dropout)
    holes |= ~((out >= profile.min_range_m) & (out <= profile.max_range_m))
    out[holes] = np.nan
    dx, dy = profile.registration_px
    if dx or dy:
        out = _shift(out, dx, dy)
    return out.astype(np.float32)
