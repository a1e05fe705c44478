"""Launch files and the rviz config, checked statically (launch_ros is not in the pip ROS wheels).

Statically: the files parse, define generate_launch_description, name only executables that
setup.py installs, reference only package files that exist, declare every launch argument they
read, remap only topics the nodes use and override only parameters the nodes declare. Where
``launch_ros`` is importable (a real ROS 2 installation) the descriptions are also built.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))
RVIZ = REPO / "rviz" / "vtr_perception.rviz"


def console_scripts() -> set[str]:
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "console_scripts":
                    return {entry.split("=")[0].strip() for entry in ast.literal_eval(value)}
    raise AssertionError("setup.py has no console_scripts")


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    def called(node: ast.Call) -> str:
        f = node.func
        return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""

    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and called(n) == name]


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def module_constants(tree: ast.Module) -> dict[str, object]:
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def declared_arguments(tree: ast.Module) -> set[str]:
    """Names given to DeclareLaunchArgument, literally or through the module's argument tables."""
    names = set()
    for call in calls(tree, "DeclareLaunchArgument"):
        if call.args and isinstance(call.args[0], ast.Constant):
            names.add(call.args[0].value)
    for name, value in module_constants(tree).items():
        if name.endswith(("_ARGUMENTS", "PARAMS_FILES")) and isinstance(value, dict):
            names |= set(value)
    return names


def test_launch_files_exist():
    assert {p.name for p in LAUNCH_FILES} >= {"perception.launch.py", "sim_demo.launch.py"}


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_structure(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "generate_launch_description" in functions

    scripts = console_scripts()
    nodes = calls(tree, "Node")
    assert nodes, f"{path.name} starts no Node"
    constants = module_constants(tree)

    def value(expr: ast.expr | None):
        return constants[expr.id] if isinstance(expr, ast.Name) else ast.literal_eval(expr)

    for node in nodes:
        package, executable = value(keyword(node, "package")), value(keyword(node, "executable"))
        if package == "vtr_perception":
            assert executable in scripts, f"{path.name}: {executable} is not a console script in setup.py"

    # every file name mentioned exists where the launch file looks for it (share/<pkg>/<dir>/<name>)
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    for s in strings:
        for suffix, folder in ((".yaml", "config"), (".rviz", "rviz"), (".launch.py", "launch")):
            if re.fullmatch(r"[\w.-]+" + re.escape(suffix), s):
                assert (REPO / folder / s).is_file(), f"{path.name} references {folder}/{s}, which does not exist"

    declared = declared_arguments(tree)
    configurations = calls(tree, "LaunchConfiguration")
    used = {c.args[0].value for c in configurations if isinstance(c.args[0], ast.Constant)}
    assert used <= declared, f"{path.name} reads undeclared launch arguments {sorted(used - declared)}"


def _node_sources() -> dict[str, str]:
    ros = REPO / "vtr_perception" / "ros"
    return {name: (ros / f"{name}_node.py").read_text() for name in ("reconstruction", "nbv", "sim_camera")}


def test_perception_launch_remaps_and_overrides_match_the_nodes():
    pytest.importorskip("rclpy", exc_type=ImportError, reason="the node configs import rclpy")
    from vtr_perception.ros.reconstruction_node import ReconstructionNodeConfig

    tree = ast.parse((REPO / "launch" / "perception.launch.py").read_text())
    constants = module_constants(tree)
    sources = _node_sources()
    for topic in constants["TOPIC_ARGUMENTS"]:
        assert f'"{topic}"' in sources["reconstruction"], f"reconstruction_node has no topic {topic!r} to remap"
    fields = {f.name for f in dataclasses.fields(ReconstructionNodeConfig)}
    overridden = set(constants["RECONSTRUCTION_ARGUMENTS"])
    assert overridden <= fields, f"not reconstruction parameters: {sorted(overridden - fields)}"
    assert set(constants["STRING_PARAMETERS"]) | set(constants["BOOL_PARAMETERS"]) == overridden


def test_sim_demo_overrides_match_sim_camera_and_forwarded_arguments_exist():
    pytest.importorskip("rclpy", exc_type=ImportError, reason="the node configs import rclpy")
    from vtr_perception.sim.camera import SimCameraConfig

    sim = module_constants(ast.parse((REPO / "launch" / "sim_demo.launch.py").read_text()))
    robot = module_constants(ast.parse((REPO / "launch" / "perception.launch.py").read_text()))
    fields = {f.name: f for f in dataclasses.fields(SimCameraConfig)}
    assert set(sim["SIM_CAMERA_ARGUMENTS"]) <= set(fields)
    for name, (default, _) in sim["SIM_CAMERA_ARGUMENTS"].items():
        assert str(fields[name].default) == default, f"sim_demo default of {name} differs from SimCameraConfig"
    robot_arguments = set().union(*(robot[k] for k in ("TOPIC_ARGUMENTS", "RECONSTRUCTION_ARGUMENTS", "NBV_ARGUMENTS",
                                                         "COMMON_ARGUMENTS")))  # fmt: skip
    assert set(sim["FORWARDED_ARGUMENTS"]) <= robot_arguments


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_description_builds_with_launch_ros(path: Path):
    pytest.importorskip("launch_ros", reason="launch_ros is not installed (pip ROS wheels); checked statically above")
    from launch import LaunchDescription

    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    assert isinstance(description, LaunchDescription)
    assert description.get_launch_arguments()


# ---------------------------------------------------------------------------------------- rviz

RVIZ_DISPLAYS = {
    # topic -> (rviz display class, what it shows)
    "image": "rviz_default_plugins/Image",
    "objects/markers": "rviz_default_plugins/MarkerArray",
    "objects/poses": "rviz_default_plugins/PoseArray",
    "objects/error": "rviz_default_plugins/PointCloud2",
    "next_best_view": "rviz_default_plugins/Pose",
    "nbv/candidates": "rviz_default_plugins/PoseArray",
    "nbv/markers": "rviz_default_plugins/MarkerArray",
}


def test_rviz_config_parses_and_shows_every_output():
    config = yaml.safe_load(RVIZ.read_text())
    manager = config["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == "world"
    displays = manager["Displays"]
    by_topic = {d["Topic"]["Value"].lstrip("/"): d for d in displays if isinstance(d.get("Topic"), dict)}
    for topic, cls in RVIZ_DISPLAYS.items():
        assert topic in by_topic, f"rviz config shows no {topic}"
        assert by_topic[topic]["Class"] == cls, f"{topic} shown with {by_topic[topic]['Class']}, expected {cls}"
    assert any(d["Class"] == "rviz_default_plugins/TF" for d in displays)

    error = by_topic["objects/error"]
    assert error["Color Transformer"] == "Intensity" and error["Channel Name"] == "error"
    # latched outputs need a transient-local subscriber to be seen by a late rviz
    for topic in ("objects/markers", "nbv/markers", "objects/error"):
        assert by_topic[topic]["Topic"]["Durability Policy"] == "Transient Local"
