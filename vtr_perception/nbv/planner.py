"""Next-best-view planner: candidates -> visible-error gain - motion cost -> ranked poses.

The ranking discounts the error on surface the views taken already see, by the candidate's angle
from them (``seen_surface_angle_deg``): without it the error head's estimate keeps pointing next to
the views taken once it is flat, and evenly spread views do better there.

Fallbacks (always a defined answer, never NaN):
- no candidate inside the limits (other objects in the line of sight count as one):
  ``best_pose`` is None, ``stop`` is True;
- no error anywhere, nothing occupied and no free-space error, or a best gain below
  ``stop_gain``: the ranking is returned (ties keep candidate order, then motion cost
  decides) and ``stop`` is True;
- ``max_views`` views (``views``, or the taken poses when it is not given): the ranking is
  returned and ``stop`` is True.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vtr_perception.nbv.candidates import Candidates, allowed_mask, make_candidates, view_directions
from vtr_perception.nbv.config import PlannerConfig
from vtr_perception.nbv.error_estimates import get_estimator
from vtr_perception.nbv.information_gain import information_gain_from_bundle
from vtr_perception.nbv.occlusion import Box, occluded_fraction, target_points
from vtr_perception.nbv.visibility import (
    RayBundle,
    first_hits,
    grid_from_world,
    ray_bundle,
    seen_surface,
    seen_surface_weight,
    visible_error_from_bundle,
)


@dataclass(frozen=True)
class PlanResult:
    """Allowed candidates ranked best first; poses are T_world_camera (optical frame)."""

    best_pose: np.ndarray | None  # (4, 4), None when no candidate is allowed
    poses: np.ndarray  # (M, 4, 4)
    scores: np.ndarray  # (M,) new gain * (1 + spread_weight * spread) - motion_weight * travel
    gains: np.ndarray  # (M,) visible error, mean per ray (new gain: with seen_surface_angle_deg's discount)
    stop: bool
    reason: str
    plan_ms: float

    @property
    def best_gain(self) -> float:
        return float(self.gains.max()) if len(self.gains) else 0.0


class NextBestViewPlanner:
    """Scores candidate views by the error they would see; a plain object the ROS node wraps."""

    def __init__(self, config: PlannerConfig | None = None) -> None:
        self.config = config or PlannerConfig()
        get_estimator(self.config.estimator)  # fail early on an unknown name
        self._bundles: dict[tuple, RayBundle] = {}

    def _bundle(self, candidates: Candidates, *, extent: float, resolution: int) -> RayBundle:
        # Ray samples depend only on the candidates relative to the centre, in grid units. Grid
        # distances are rounded to 1% so that an extent re-estimated every frame reuses the bundle.
        grid_distance = np.round(candidates.distance / extent, 2)
        key = (resolution, grid_distance.tobytes())
        if key not in self._bundles:
            T_grid = candidates.poses.copy()
            T_grid[:, :3, 3] = candidates.directions * grid_distance[:, None]
            if len(self._bundles) >= 8:
                self._bundles.pop(next(iter(self._bundles)))
            self._bundles[key] = ray_bundle(T_grid, resolution=resolution, rays=self.config.rays)
        return self._bundles[key]

    def plan_from_outputs(
        self, outputs: Mapping[str, np.ndarray], *, gt: np.ndarray | None = None, **kwargs
    ) -> PlanResult:
        """Plan from one object's reconstructor outputs with the configured error estimator."""
        error = get_estimator(self.config.estimator)(outputs, gt=gt)
        return self.plan(error, outputs["occupancy"], state=outputs.get("state"), **kwargs)

    def plan(
        self,
        error_volume: np.ndarray,
        occupancy: np.ndarray,
        *,
        center: Sequence[float] = (0.0, 0.0, 0.0),
        extent: float = 1.0,
        current_pose: np.ndarray | None = None,
        taken_poses: np.ndarray | Sequence[np.ndarray] = (),
        obstacles: Sequence[Box] = (),
        views: int | None = None,
        state: np.ndarray | None = None,
    ) -> PlanResult:
        """Rank the allowed candidates around an object whose grid is centred at ``center`` with side ``extent``.

        ``obstacles``: world-axis boxes (lo, hi) of the other objects (``occlusion.occupied_box``); a
        candidate that would see the object through them (``max_occluded_fraction``) is not allowed.
        ``views``: how many views the reconstruction has, for ``max_views``. ``taken_poses`` can hold
        more poses than that (places the camera was sent to whose frames were not used).
        ``state``: the per-voxel measured state (0 unknown, 1 free, 2 occupied), used by the information gain.
        With ``estimator`` information_gain, ``error_volume`` is the posterior uncertainty and a candidate's gain
        is its expected information gain (nbv/information_gain.py), times the share of its sightlines no
        neighbour hides; the seen-surface discount does not apply (known space already has low uncertainty).
        """
        start = time.perf_counter()
        cfg = self.config
        occupancy = np.asarray(occupancy, dtype=np.float32)
        error_volume = np.asarray(error_volume, dtype=np.float32)
        if occupancy.ndim != 3 or len(set(occupancy.shape)) != 1 or occupancy.shape[0] < 1:
            raise ValueError(f"occupancy must be a cubic (R, R, R) volume, got shape {occupancy.shape}")
        if error_volume.shape != occupancy.shape:
            raise ValueError(f"error_volume shape {error_volume.shape} differs from occupancy {occupancy.shape}")
        if not (np.isfinite(extent) and extent > 0):
            raise ValueError(f"extent must be positive and finite, got {extent}")
        taken = np.asarray(taken_poses, dtype=np.float64).reshape(-1, 4, 4)
        candidates, allowed, hidden = self._allowed_candidates(occupancy, center, extent, taken, obstacles)
        if not allowed.any():
            return PlanResult(
                None,
                np.zeros((0, 4, 4)),
                np.zeros(0),
                np.zeros(0),
                True,
                "no candidate satisfies the limits",
                _ms(start),
            )

        bundle = self._bundle(candidates, extent=extent, resolution=occupancy.shape[0])
        gains, scores = self._gains_and_scores(bundle, candidates, allowed, hidden, error_volume, occupancy, state,
                                               taken, center, extent)  # fmt: skip
        scores = self._preferences(scores, candidates, taken, current_pose)
        index = np.flatnonzero(allowed)
        order = index[np.argsort(-scores[index], kind="stable")]
        best_gain = float(gains[index].max())
        num_views = len(taken) if views is None else int(views)
        ig = cfg.estimator == "information_gain"
        if num_views >= cfg.max_views:
            stop, reason = True, f"max views reached ({num_views} >= {cfg.max_views})"
        elif best_gain < (stop_gain := cfg.stop_information_gain if ig else cfg.stop_gain):
            name = "stop_information_gain" if ig else "stop_gain"
            stop, reason = True, f"best gain {best_gain:.4g} below {name} {stop_gain:.4g}"
        else:
            stop, reason = False, f"best gain {best_gain:.4g}"
        poses = candidates.poses[order]
        return PlanResult(poses[0], poses, scores[order], gains[order], stop, reason, _ms(start))

    def _allowed_candidates(self, occupancy, center, extent: float, taken: np.ndarray, obstacles: Sequence[Box]):
        """Candidates within the elevation limits, which of them the limits allow, and how much of the object
        the other objects hide from each."""
        cfg = self.config
        candidates = make_candidates(cfg, center=center)
        # Out of the elevation limits whatever the scene: never ranked, so no rays are cast for them
        # (the ray bundle of a new grid size costs seconds for all 400 Fibonacci directions).
        el = candidates.elevation_deg
        candidates = candidates.subset((el >= cfg.elevation_min_deg - 1e-9) & (el <= cfg.elevation_max_deg + 1e-9))
        allowed = allowed_mask(candidates, cfg, extent=extent, taken_poses=taken)
        hidden = np.zeros(len(candidates))
        if len(obstacles) and cfg.max_occluded_fraction < 1.0:
            targets = target_points(occupancy, center, extent, cfg.occupancy_threshold)
            hidden = occluded_fraction(candidates.poses[:, :3, 3], targets, obstacles, cfg.occluder_margin_m)
            allowed &= hidden <= cfg.max_occluded_fraction + 1e-9
        return candidates, allowed, hidden

    def _gains_and_scores(self, bundle, candidates, allowed, hidden, error_volume, occupancy, state, taken, center,
                          extent: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Each allowed candidate's gain (what ``stop_gain`` compares) and its score before the preferences."""
        cfg = self.config
        information_gain = cfg.estimator == "information_gain"
        ray_weight = None
        if cfg.seen_surface_angle_deg > 0.0 and len(taken) and not information_gain:
            ray_weight = self._seen_surface_weight(bundle, candidates, allowed, occupancy, taken, center, extent)
        gains = np.zeros(len(allowed))  # scored only where allowed: the rest are never ranked
        visible = dict(threshold=cfg.occupancy_threshold, free_space_weight=cfg.free_space_weight, cameras=allowed)
        if information_gain:
            gains[allowed] = information_gain_from_bundle(
                bundle, error_volume, occupancy, state=state, cameras=allowed, measured_weight=cfg.measured_gain_weight
            )
            gains *= 1.0 - hidden
        else:
            gains[allowed] = visible_error_from_bundle(bundle, error_volume, occupancy, **visible)
        scores = gains.copy()
        if ray_weight is not None:  # ranks by the error seen anew; stop_gain still compares the visible error
            scores[allowed] = visible_error_from_bundle(bundle, error_volume, occupancy, ray_weight=ray_weight,
                                                        **visible)  # fmt: skip
        return gains, scores

    def _preferences(self, scores: np.ndarray, candidates, taken: np.ndarray, current_pose) -> np.ndarray:
        """Scores with the spread bonus, the preferred-elevation factor and the motion cost applied."""
        cfg = self.config
        if cfg.spread_weight > 0.0 and len(taken):
            cos = candidates.directions @ view_directions(taken, candidates.center).T  # (N, taken)
            spread = np.arccos(np.clip(cos.max(axis=1), -1.0, 1.0)) / np.pi  # nearest taken view, 0..1
            scores = scores * (1.0 + cfg.spread_weight * spread)
        if cfg.outside_preferred_factor < 1.0:
            lo, hi = cfg.preferred_elevation_deg
            el = candidates.elevation_deg
            inside = (el >= lo - 1e-9) & (el <= hi + 1e-9)
            # factor 0 still ranks the outside candidates among themselves (a tiny factor, not zero)
            scores = np.where(inside, scores, scores * max(cfg.outside_preferred_factor, 1e-6))
        if current_pose is not None and cfg.motion_weight > 0.0:
            current = np.asarray(current_pose, dtype=np.float64).reshape(4, 4)
            travel = np.linalg.norm(candidates.poses[:, :3, 3] - current[:3, 3], axis=1)
            scores = scores - cfg.motion_weight * travel
        return scores

    def _seen_surface_weight(
        self,
        bundle: RayBundle,
        candidates: Candidates,
        allowed: np.ndarray,
        occupancy: np.ndarray,
        taken: np.ndarray,
        center: Sequence[float],
        extent: float,
    ) -> np.ndarray:
        """(allowed, P) ray weights of ``seen_surface_angle_deg``: the current shape as the taken views see it."""
        cfg = self.config
        seen = seen_surface(occupancy, grid_from_world(taken, center=np.asarray(center), extent=extent),
                            threshold=cfg.occupancy_threshold)  # fmt: skip
        hits = first_hits(bundle, occupancy, threshold=cfg.occupancy_threshold, cameras=allowed)
        taken_directions = view_directions(taken, candidates.center)
        return seen_surface_weight(hits, candidates.directions[allowed], seen, taken_directions,
                                   full_angle_deg=cfg.seen_surface_angle_deg)  # fmt: skip


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1e3
