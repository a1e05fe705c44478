"""The documented way to play a RealSense bag (ros2_ws/README.md) uses only what the launch file and the demo take."""

from __future__ import annotations

import ast
import re

from tests.test_launch_files import REPO, declared_arguments, module_constants

README = REPO / "ros2_ws" / "README.md"


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def test_the_readmes_realsense_remappings_are_launch_arguments_and_demo_remaps_of_node_inputs():
    section = _section("Play a RealSense bag")
    launch = section[section.index("ros2 launch vtr_perception perception.launch.py") :].split("```")[0]
    given = dict(re.findall(r"(\w+):=(\S+)", launch))
    tree = ast.parse((REPO / "launch" / "perception.launch.py").read_text())
    assert {"image", "depth", "camera_info", "image_qos"} <= set(given)
    assert set(given) <= declared_arguments(tree), set(given) - declared_arguments(tree)
    topics = module_constants(tree)["TOPIC_ARGUMENTS"]  # each remaps the node input of the same name
    demo = section[section.index("vtr-perception demo --bag BAG") :].split("```")[0]
    remaps = dict(re.findall(r"--remap (\w+):=(\S+)", demo))
    assert remaps == {name: given[name] for name in ("image", "depth", "camera_info")}
    assert set(remaps) <= set(topics)


def test_both_launch_files_take_the_image_qos():
    for name in ("perception.launch.py", "sim_demo.launch.py"):
        tree = ast.parse((REPO / "launch" / name).read_text())
        assert "image_qos" in declared_arguments(tree), name
