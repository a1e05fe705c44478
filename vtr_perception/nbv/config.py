"""PlannerConfig: the next-best-view planner's parameters (CLI flags, YAML, ROS parameters).

Lengths are metres in the world frame; angles are degrees. The object's voxel grid is
axis-aligned with the world, centred at the object centre with side ``extent``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class PlannerConfig:
    """Next-best-view planner: candidate limits, scoring and stopping."""

    estimator: str = field(
        default="error_head",
        metadata={
            "help": "how views are scored: information_gain (expected information gain over the fused grid's "
            "posterior uncertainty, nbv/information_gain.py), or the visible error of an estimate: "
            "error_head, entropy, disagreement or oracle"
        },
    )
    candidates: Literal["grid", "fibonacci"] = field(
        default="fibonacci",
        metadata={
            "help": "candidate directions: a Fibonacci sphere (even spacing, num_candidates of them) or the 72-bin "
            "azimuth/elevation grid (12 azimuths x 6 elevations); the grid is coarser and cheaper"
        },
    )
    num_candidates: int = field(
        default=400,
        metadata={
            "help": "directions on the whole Fibonacci sphere, before the elevation and workspace limits "
            "(ignored for the grid); more gives finer choices and longer plans"
        },
    )
    distance_min: float = field(default=0.4, metadata={"help": "closest camera distance from the object centre (m)"})
    distance_max: float = field(default=0.8, metadata={"help": "farthest camera distance from the object centre (m)"})
    num_distances: int = field(
        default=1,
        metadata={"help": "shells of candidates from distance_min to distance_max (1: one shell at their midpoint)"},
    )
    elevation_min_deg: float = field(
        default=15.0,
        metadata={
            "help": "lowest camera elevation above the object centre's horizontal plane (deg); lower it where the "
            "robot can look from the side or below"
        },
    )
    elevation_max_deg: float = field(
        default=45.0, metadata={"help": "highest camera elevation (deg); raise it where the robot can look from above"}
    )
    workspace_min: tuple[float, float, float] = field(
        default=(-100.0, -100.0, -100.0),
        metadata={"help": "minimum x y z of the box the camera must stay in (world frame, m)"},
    )
    workspace_max: tuple[float, float, float] = field(
        default=(100.0, 100.0, 100.0),
        metadata={"help": "maximum x y z of the box the camera must stay in (world frame, m)"},
    )
    min_angle_from_taken_deg: float = field(
        default=20.0,
        metadata={
            "help": "a candidate's direction from the object must differ this much from every view taken (deg); "
            "lower it when a narrow elevation band leaves too few candidates after many views"
        },
    )
    max_occluded_fraction: float = field(
        default=0.1,
        metadata={
            "help": "a candidate whose sightlines to the object's predicted shape cross other objects' boxes "
            "for more than this share is not allowed: perception keeps no view of a partly hidden "
            "object (1: no occlusion limit)"
        },
    )
    occluder_margin_m: float = field(
        default=0.01, metadata={"help": "other objects' boxes are grown by this much for the occlusion limit (m)"}
    )
    motion_weight: float = field(
        default=0.0,
        metadata={
            "help": "score penalty per metre of camera travel from the current pose; raise it when moving the "
            "camera is slow or costly (0: travel is free)"
        },
    )
    stop_gain: float = field(
        default=0.005,
        metadata={
            "help": "stop when the best visible-error gain falls below this (mean error per ray); 0 never stops "
            "before max_views"
        },
    )
    measured_gain_weight: float = field(
        default=0.0,
        metadata={"help": "information_gain: weight of the uncertainty of measured voxels (state free or occupied) "
                          "against unseen ones; 0 (only unseen space counts) led 1 by .02-.03 IoU at 2-4 views on "
                          "validation table-top scenes (docs/experiments.md)", "range": (0.0, 1.0)},
    )  # fmt: skip
    stop_information_gain: float = field(
        default=0.05,
        metadata={"help": "information_gain: stop when the best expected gain falls below this (voxels of "
                          "uncertainty per ray)"},
    )  # fmt: skip
    max_views: int = field(default=8, metadata={"help": "stop once this many views have been taken"})
    occupancy_threshold: float = field(
        default=0.4, metadata={"help": "occupancy probability at which a ray stops (the first-hit surface)"}
    )
    rays: int = field(default=24, metadata={"help": "rays per side of the square ray grid cast from each candidate"})
    free_space_weight: float = field(
        default=0.0,
        metadata={
            "help": "weight of the error in predicted-free voxels a ray crosses before its first hit (0: first hit "
            "only, as in VTR); above 0 it favours long chords through low-error space"
        },
    )

    spread_weight: float = field(
        default=0.0,
        metadata={
            "help": "scores are gain * (1 + spread_weight * s), s in [0, 1] the candidate's angle to the nearest view "
            "taken over 180 deg: favours unseen sides where the error estimate is flat (0: gain alone; large "
            "values approach farthest-point selection)"
        },
    )
    seen_surface_angle_deg: float = field(
        default=90.0,
        metadata={
            "help": "discount the error on surface the views taken already see: a first hit seen from a taken view "
            "counts by the candidate's angle to that view over this angle, at most fully (0: off, every first hit "
            "counts fully); lower values discount seen surface more"
        },
    )

    preferred_elevation_deg: tuple[float, float] = field(
        default=(20.0, 35.0),
        metadata={
            "help": "elevations (lo hi, deg) the reconstructor reconstructs best from, its training views' band "
            "(20-35 for the shipped models): a candidate outside it scores outside_preferred_factor times its "
            "gain; change it with a model trained on other views"
        },
    )
    outside_preferred_factor: float = field(
        default=0.5,
        metadata={"help": "score factor of candidates outside preferred_elevation_deg (1: no preference; 0: only "
                          "when no candidate inside is allowed)", "range": (0.0, 1.0)},
    )  # fmt: skip

    def __post_init__(self) -> None:
        if not 0.0 < self.distance_min <= self.distance_max:
            raise ValueError(
                f"PlannerConfig: need 0 < distance_min <= distance_max, got {self.distance_min}, {self.distance_max}"
            )
        if not -90.0 <= self.elevation_min_deg <= self.elevation_max_deg <= 90.0:
            raise ValueError(
                "PlannerConfig: need -90 <= elevation_min_deg <= elevation_max_deg <= 90, got "
                f"{self.elevation_min_deg}, {self.elevation_max_deg}"
            )
        for name in ("num_candidates", "num_distances", "max_views", "rays"):
            if getattr(self, name) < 1:
                raise ValueError(f"PlannerConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("workspace_min", "workspace_max", "preferred_elevation_deg"):  # YAML gives lists
            setattr(self, name, tuple(float(v) for v in getattr(self, name)))
        if len(self.preferred_elevation_deg) != 2 or not (
            -90.0 <= self.preferred_elevation_deg[0] <= self.preferred_elevation_deg[1] <= 90.0
        ):
            raise ValueError(
                f"PlannerConfig.preferred_elevation_deg must be (lo, hi) with -90 <= lo <= hi <= 90, "
                f"got {self.preferred_elevation_deg}"
            )
        if not 0.0 <= self.outside_preferred_factor <= 1.0:
            raise ValueError(
                f"PlannerConfig.outside_preferred_factor must be in [0, 1], got {self.outside_preferred_factor}"
            )
        for name in ("workspace_min", "workspace_max"):
            if len(getattr(self, name)) != 3:
                raise ValueError(f"PlannerConfig.{name} must have 3 values (x y z), got {getattr(self, name)}")
        if any(lo > hi for lo, hi in zip(self.workspace_min, self.workspace_max, strict=True)):
            raise ValueError(
                f"PlannerConfig: workspace_min {self.workspace_min} exceeds workspace_max {self.workspace_max}"
            )
        from vtr_perception.nbv.error_estimates import ESTIMATORS

        if self.estimator not in ESTIMATORS:
            raise ValueError(f"PlannerConfig.estimator must be one of {', '.join(ESTIMATORS)}, got {self.estimator!r}")
        if self.candidates not in ("grid", "fibonacci"):
            raise ValueError(f"PlannerConfig.candidates must be 'grid' or 'fibonacci', got {self.candidates!r}")
        if not 0.0 < self.occupancy_threshold < 1.0:
            raise ValueError(f"PlannerConfig.occupancy_threshold must be in (0, 1), got {self.occupancy_threshold}")
        if not 0.0 <= self.max_occluded_fraction <= 1.0:
            raise ValueError(f"PlannerConfig.max_occluded_fraction must be in [0, 1], got {self.max_occluded_fraction}")
        for name in ("min_angle_from_taken_deg", "motion_weight", "stop_gain", "free_space_weight", "spread_weight",
                     "occluder_margin_m", "seen_surface_angle_deg", "stop_information_gain",
                     "measured_gain_weight"):  # fmt: skip
            if getattr(self, name) < 0.0:
                raise ValueError(f"PlannerConfig.{name} must be >= 0, got {getattr(self, name)}")
