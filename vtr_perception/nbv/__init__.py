"""Next-best-view planning from estimated reconstruction error (no ROS here)."""

from vtr_perception.nbv.config import PlannerConfig
from vtr_perception.nbv.error_estimates import ESTIMATORS, ErrorEstimator, get_estimator
from vtr_perception.nbv.planner import NextBestViewPlanner, PlanResult
from vtr_perception.nbv.visibility import visible_error

__all__ = [
    "ESTIMATORS",
    "ErrorEstimator",
    "NextBestViewPlanner",
    "PlanResult",
    "PlannerConfig",
    "get_estimator",
    "visible_error",
]
