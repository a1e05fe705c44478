"""Training losses of the reconstructor: occupancy (BCE or Dice), per-view volumes, pose and error heads."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def pose_targets(azimuth_deg: torch.Tensor, elevation_deg: torch.Tensor) -> torch.Tensor:
    """(..., 4) = (sin az, cos az, sin el, cos el), the pose head's output format."""
    az, el = azimuth_deg * (math.pi / 180.0), elevation_deg * (math.pi / 180.0)
    return torch.stack([torch.sin(az), torch.cos(az), torch.sin(el), torch.cos(el)], dim=-1)


def pose_error_deg(view_pose: torch.Tensor, azimuth_deg: torch.Tensor, elevation_deg: torch.Tensor) -> torch.Tensor:
    """Angle (degrees) between predicted and true viewing directions, per view."""

    def direction(sa, ca, se, ce):
        return torch.stack([ce * ca, ce * sa, se], dim=-1)

    t = pose_targets(azimuth_deg, elevation_deg)
    pred = direction(*view_pose.unbind(-1))
    true = direction(*t.unbind(-1))
    cos = (F.normalize(pred, dim=-1) * true).sum(-1).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cos))


def dice_loss(prob: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    dims = tuple(range(1, prob.dim()))
    inter = (prob * target).sum(dims)
    return (1.0 - (2.0 * inter + eps) / (prob.sum(dims) + target.sum(dims) + eps)).mean()


def occupancy_loss(prob: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "bce":
        return F.binary_cross_entropy(prob.clamp(1e-6, 1 - 1e-6), target)
    if kind == "dice":
        return dice_loss(prob, target)
    if kind == "bce+dice":
        return F.binary_cross_entropy(prob.clamp(1e-6, 1 - 1e-6), target) + dice_loss(prob, target)
    raise ValueError(f"occupancy_loss must be bce, dice or bce+dice, got {kind!r}")


def reconstruction_losses(
    outputs: dict[str, torch.Tensor],
    voxels: torch.Tensor,
    azimuth: torch.Tensor,
    elevation: torch.Tensor,
    *,
    kind: str = "bce",
) -> dict[str, torch.Tensor]:
    """The loss terms (unweighted): occupancy, view (per-view warped volumes), pose, error."""
    occupancy = outputs["occupancy"]
    views = outputs["view_occupancy"]
    true_error = (voxels - occupancy).abs().detach()
    return {
        "occupancy": occupancy_loss(occupancy, voxels, kind),
        "view": F.binary_cross_entropy(views.clamp(1e-6, 1 - 1e-6), voxels.unsqueeze(1).expand_as(views)),
        "pose": F.mse_loss(outputs["view_pose"], pose_targets(azimuth, elevation)),
        "error": F.mse_loss(outputs["error"], true_error),
    }
