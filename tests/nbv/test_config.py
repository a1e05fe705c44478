import argparse

import pytest

from vtr_perception import config as config_io
from vtr_perception.nbv.candidates import allowed_mask, fibonacci_angles, make_candidates
from vtr_perception.nbv.config import PlannerConfig


def test_every_field_has_help_and_round_trips_through_flags_and_mappings():
    import dataclasses

    assert all(f.metadata.get("help") for f in dataclasses.fields(PlannerConfig))
    parser = argparse.ArgumentParser()
    config_io.add_arguments(parser, PlannerConfig)
    args = parser.parse_args(["--elevation-min-deg", "10", "--workspace-max", "1", "2", "3", "--estimator", "entropy"])
    cfg = config_io.from_args(PlannerConfig, args)
    assert cfg.elevation_min_deg == 10.0 and cfg.workspace_max == (1.0, 2.0, 3.0) and cfg.estimator == "entropy"
    assert config_io.from_mapping(PlannerConfig, config_io.to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    "options,match",
    [
        ({"distance_min": 1.0, "distance_max": 0.5}, "distance"),
        ({"elevation_min_deg": 50.0, "elevation_max_deg": 10.0}, "elevation"),
        ({"workspace_min": (0.0, 0.0)}, "workspace_min"),
        ({"workspace_min": (1.0, 0.0, 0.0), "workspace_max": (0.0, 1.0, 1.0)}, "workspace"),
        ({"rays": 0}, "rays"),
        ({"occupancy_threshold": 1.0}, "occupancy_threshold"),
        ({"candidates": "cube"}, "candidates"),
    ],
)
def test_invalid_configs_name_the_parameter(options, match):
    with pytest.raises(ValueError, match=match):
        PlannerConfig(**options)


def test_candidates_grid_and_fibonacci_shells():
    cfg = PlannerConfig(candidates="grid", distance_min=1.0, distance_max=2.0, num_distances=3)
    cands = make_candidates(cfg, center=(0.5, 0.0, 0.0))
    assert len(cands) == 3 * 72
    assert sorted(set(cands.distance.round(6))) == [1.0, 1.5, 2.0]
    fib = make_candidates(PlannerConfig(candidates="fibonacci", num_candidates=100), center=(0.0, 0.0, 0.0))
    assert len(fib) == 100
    az, el = fibonacci_angles(500)
    assert abs(el.mean()) < 1.0 and el.min() < -80.0 and el.max() > 80.0  # spread over the whole sphere
    mask = allowed_mask(fib, PlannerConfig(elevation_min_deg=-10.0, elevation_max_deg=30.0), extent=0.2)
    assert mask.any() and not mask.all()
    assert fib.elevation_deg[mask].min() >= -10.0 and fib.elevation_deg[mask].max() <= 30.0
