"""The YAML files in config/ hold only fields of their dataclasses, and node files hold the defaults.

A default-constructed PlannerConfig or PerceptionConfig is the shipped one: every value that
config/nbv.yaml and config/reconstruction.yaml give their ``planner.`` / ``perception.`` sections
equals the field's default. The node-level keys of those files (and config/sim_camera.yaml) are
checked the same way in tests/ros/test_nodes_config.py, where rclpy is importable. The training
files are recipes, so their values may differ from the defaults; their keys must still be fields.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from vtr_perception.nbv.config import PlannerConfig
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.resources import section_parameters

CONFIG = Path(__file__).resolve().parents[1] / "config"

# node file -> (node name, nested section, its dataclass)
NESTED = {
    "nbv.yaml": ("nbv", "planner", PlannerConfig),
    "reconstruction.yaml": ("reconstruction", "perception", PerceptionConfig),
}


def differences_from_defaults(cls: type, values: dict) -> dict[str, tuple]:
    """key -> (value in the file, default) for each key whose value is not the field's default.

    Each value goes through the dataclass, so a YAML list compares equal to a tuple default.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    assert not unknown, f"not fields of {cls.__name__}: {unknown}"
    default = cls()
    out = {}
    for key, value in values.items():
        loaded = getattr(cls(**{key: value}), key)
        if loaded != getattr(default, key):
            out[key] = (loaded, getattr(default, key))
    return out


@pytest.mark.parametrize("name", sorted(NESTED))
def test_shipped_nested_section_equals_the_dataclass_defaults(name):
    node, section, cls = NESTED[name]
    values = section_parameters(yaml.safe_load((CONFIG / name).read_text()), node).get(section, {})
    assert values, f"{name} has no {section}. section"
    assert differences_from_defaults(cls, values) == {}, f"{name} {section}.: (file, default)"


def test_the_check_reports_a_value_that_is_not_the_default():
    assert differences_from_defaults(PlannerConfig, {"elevation_max_deg": 50.0}) == {"elevation_max_deg": (50.0, 45.0)}
    assert differences_from_defaults(PlannerConfig, {"preferred_elevation_deg": [20.0, 35.0]}) == {}
    with pytest.raises(AssertionError, match="not fields"):
        differences_from_defaults(PerceptionConfig, {"max_dpeth_m": 3.0})


@pytest.mark.parametrize("name", ["train_default.yaml", "train_canonical.yaml"])
def test_training_files_hold_only_model_and_train_fields(name):
    from vtr_perception.train.trainer import load_train_yaml

    model, train = load_train_yaml(CONFIG / name)  # unknown keys raise
    assert model.resolution == 32 and train.view_set == "aligned"


def test_mixed_fine_tune_file_trains_on_every_source_and_two_view_sets():
    from vtr_perception.train.trainer import load_train_yaml, view_sets

    _, train = load_train_yaml(CONFIG / "train_finetune_mixed.yaml")
    assert view_sets(train) == ["aligned", "sphere"] and len(train.caches) == 2 and train.init_from


def test_vtr_file_holds_only_vtr_fields():
    from vtr_perception import config as config_io
    from vtr_perception.train.vtr import VTRConfig

    config_io.load_yaml(VTRConfig, CONFIG / "vtr_error_diffusion.yaml")  # unknown keys raise


def test_every_yaml_file_is_checked():
    node_files = {p.name for p in CONFIG.glob("*.yaml") if "ros__parameters" in p.read_text()}
    assert node_files == {"nbv.yaml", "reconstruction.yaml", "sim_camera.yaml"}
    other = {p.name for p in CONFIG.glob("*.yaml")} - node_files
    assert other == {
        "train_default.yaml",
        "train_canonical.yaml",
        "train_finetune_mixed.yaml",
        "vtr_error_diffusion.yaml",
    }
