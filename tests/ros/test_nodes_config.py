"""The shipped parameter files (config/*.yaml) match the nodes' dataclasses and load into real nodes.

Statically: each file has one section keyed ``/**`` (every node, in any namespace: a section
keyed by the bare node name is silently ignored under ``namespace:=robot1``), every key is a field of the
node's config dataclass (nested mappings: ``perception.`` / ``planner.``), each value has
the field's type and equals the field's default. Dynamically: a node started with ``--params-file`` (in its own rclpy
context here) holds the file's values as parameters and in the config it built from them.
The running reconstruction node is checked through its parameter services in
test_nodes_reconstruction.py.
"""

from __future__ import annotations

import dataclasses
import typing

import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy not installed (pip extra or system ROS 2)")

import rclpy  # noqa: E402
import yaml  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from tests.ros.helpers import REPO  # noqa: E402
from vtr_perception.nbv.config import PlannerConfig  # noqa: E402
from vtr_perception.perception.config import PerceptionConfig  # noqa: E402
from vtr_perception.resources import section_parameters, shipped_parameters  # noqa: E402
from vtr_perception.ros.nbv_node import NbvNode, NbvNodeConfig  # noqa: E402
from vtr_perception.ros.reconstruction_node import ReconstructionNodeConfig  # noqa: E402
from vtr_perception.sim.camera import SimCameraConfig  # noqa: E402

pytestmark = pytest.mark.ros

# file -> (node name, its config, {nested section: dataclass})
NODES = {
    "reconstruction.yaml": ("reconstruction", ReconstructionNodeConfig, {"perception": PerceptionConfig}),
    "nbv.yaml": ("nbv", NbvNodeConfig, {"planner": PlannerConfig}),
    "sim_camera.yaml": ("sim_camera", SimCameraConfig, {}),
}


def load(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


def _accepts(tp, value) -> bool:
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(tp) or (str,)
        return isinstance(value, list) and all(_accepts(inner, v) for v in value)
    if tp is float:
        return isinstance(value, float)  # an int here would make ROS declare the wrong type
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def check_section(values: dict, cls: type, where: str) -> None:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key, value in values.items():
        assert key in names, f"{where}: {key!r} is not a field of {cls.__name__}"
        assert _accepts(hints[key], value), f"{where}: {key}={value!r} does not fit {hints[key]}"


def test_every_node_parameter_file_is_checked_here():
    node_files = {p.name for p in (REPO / "config").glob("*.yaml") if "ros__parameters" in p.read_text()}
    assert node_files == set(NODES)


@pytest.mark.parametrize("name", sorted(NODES))
def test_every_key_is_a_dataclass_field_of_the_right_type(name):
    node_name, cls, nested = NODES[name]
    data = load(name)
    assert list(data) == ["/**"], f"{name}: one section keyed /** (any node name and namespace), got {list(data)}"
    params = section_parameters(data, node_name)
    assert params == data["/**"]["ros__parameters"]
    flat = {k: v for k, v in params.items() if not isinstance(v, dict)}
    check_section(flat, cls, name)
    for section, values in params.items():
        if isinstance(values, dict):
            assert section in nested, f"{name}: unknown nested section {section!r}"
            check_section(values, nested[section], f"{name} {section}.")
    cls(**flat)  # the values pass the dataclass's own checks
    for section, sub in nested.items():
        sub(**params.get(section, {}))


@pytest.mark.parametrize("name", sorted(NODES))
def test_every_node_level_value_is_the_dataclass_default(name):
    """A default-constructed node config is the shipped one (nested sections: tests/test_config_files.py)."""
    node_name, cls, _ = NODES[name]
    params = section_parameters(load(name), node_name)
    default = cls()
    flat = {k: v for k, v in params.items() if not isinstance(v, dict)}
    differ = {k: (v, getattr(default, k)) for k, v in flat.items() if v != getattr(default, k)}
    assert differ == {}, f"{name}: (file, default)"


def test_nbv_node_loads_its_params_file():
    context = Context()
    rclpy.init(args=["--ros-args", "--params-file", str(REPO / "config" / "nbv.yaml")], context=context)
    try:
        node = NbvNode(context=context)
        params = section_parameters(load("nbv.yaml"), "nbv")
        assert node.planner_config == PlannerConfig(**params["planner"])
        assert node.planner.config == node.planner_config
        assert node.config.target_id == params["target_id"]
        for key, value in params["planner"].items():
            assert node.get_parameter(f"planner.{key}").value == value
        described = node.describe_parameter("planner.elevation_min_deg")
        assert "elevation" in described.description
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_nbv_node_refuses_an_estimator_the_cloud_cannot_feed():
    """disagreement needs the per-view volumes and oracle the truth; neither is in objects/error."""
    context = Context()
    rclpy.init(args=["--ros-args", "-p", "planner.estimator:=disagreement"], context=context)
    try:
        with pytest.raises(ValueError, match="planner.estimator 'disagreement'.*supports error_head, entropy"):
            NbvNode(context=context)
    finally:
        rclpy.shutdown(context=context)


def test_shipped_files_apply_in_a_namespace(tmp_path):
    """namespace:=robot1 (``-r __ns:=/robot1``): the shipped nbv.yaml, with two values changed, still applies."""
    data = load("nbv.yaml")
    data["/**"]["ros__parameters"]["target_id"] = 7
    data["/**"]["ros__parameters"]["planner"]["max_views"] = 5
    path = tmp_path / "nbv.yaml"
    path.write_text(yaml.safe_dump(data))
    context = Context()
    rclpy.init(args=["--ros-args", "-r", "__ns:=/robot1", "--params-file", str(path)], context=context)
    try:
        node = NbvNode(context=context)
        assert node.get_fully_qualified_name() == "/robot1/nbv"
        assert (node.config.target_id, node.planner_config.max_views) == (7, 5)
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_section_parameters_reads_every_key_form_rcl_applies():
    data = {
        "/**": {"ros__parameters": {"a": 1, "planner": {"x": 1, "y": 1}}},
        "other": {"ros__parameters": {"a": 9}},
        "/**/nbv": {"ros__parameters": {"planner": {"y": 2}}},
        "nbv": {"ros__parameters": {"b": 3}},
    }
    assert section_parameters(data, "nbv") == {"a": 1, "planner": {"x": 1, "y": 2}, "b": 3}
    assert section_parameters(data, "reconstruction") == {"a": 1, "planner": {"x": 1, "y": 1}}
    assert shipped_parameters("nbv") == load("nbv.yaml")["/**"]["ros__parameters"]


def _set(node, name: str, value):
    return node.set_parameters([Parameter(name, value=value)])[0]


def test_run_time_changes_apply_or_are_refused():
    """`ros2 param set`: a parameter that cannot change at run time is read-only (the set fails with a reason);
    one that can is applied through the on-set callback, after the same checks as at start."""
    import numpy as np

    from tests.perception.doubles import FixedShapeBackend
    from vtr_perception.ros.reconstruction_node import ReconstructionNode
    from vtr_perception.ros.sim_camera_node import SimCameraNode

    context = Context()
    rclpy.init(args=["--ros-args", "--params-file", str(REPO / "config" / "nbv.yaml")], context=context)
    nodes = []
    try:
        nbv = NbvNode(context=context)
        nodes.append(nbv)
        refused = _set(nbv, "world_frame", "map")
        assert not refused.successful and "read-only" in refused.reason
        assert nbv.config.world_frame == "world"
        assert _set(nbv, "target_id", 4).successful and (nbv.target_id, nbv.config.target_id) == (4, 4)
        assert _set(nbv, "planner.max_views", 5).successful
        assert nbv.planner.config.max_views == 5 == nbv.planner_config.max_views
        refused = _set(nbv, "planner.estimator", "disagreement")
        assert not refused.successful and "supports error_head, entropy" in refused.reason
        assert nbv.planner.config.estimator == "error_head" == nbv.get_parameter("planner.estimator").value
        refused = _set(nbv, "planner.candidates", "cube")
        assert not refused.successful and "must be one of" in refused.reason

        # procedural objects: the run-time set (make robot-check) has no pybullet_data
        camera = SimCameraNode(context=context, parameter_overrides=[Parameter("source", value="procedural")])
        nodes.append(camera)
        assert not _set(camera, "num_objects", 2).successful
        assert _set(camera, "mode", "orbit").successful and camera.config.mode == camera.camera.config.mode == "orbit"

        reconstruction = ReconstructionNode(backend=FixedShapeBackend(np.zeros((16, 16, 16))), context=context)
        nodes.append(reconstruction)
        for name, value in (("perception.max_views", 3), ("backend", "torch"), ("image_qos", "reliable")):
            assert not _set(reconstruction, name, value).successful, name
        assert _set(reconstruction, "marker_max_triangles", 500).successful
        assert reconstruction.config.marker_max_triangles == 500
        assert not _set(reconstruction, "marker_max_triangles", -1).successful  # out of its range
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.shutdown(context=context)
