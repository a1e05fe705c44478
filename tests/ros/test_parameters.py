"""Dataclass configs as ROS parameters, in real nodes, loaded from a --params-file YAML."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy not installed (pip extra or system ROS 2)")

from rcl_interfaces.msg import ParameterType  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from tests.ros.helpers import isolated_node  # noqa: E402
from vtr_perception.ros.parameters import dataclass_to_parameters, declare_from_dataclass, read_dataclass  # noqa: E402
from vtr_perception.ros.qos import image_qos, latched_qos  # noqa: E402

pytestmark = pytest.mark.ros


@dataclass(frozen=True)
class Limits:
    """Nested config."""

    max_step_m: float = field(default=0.5, metadata={"help": "largest camera move", "range": (0.0, 2.0)})
    weights: tuple[float, ...] = field(default=(1.0, 0.5), metadata={"help": "score weights"})


@dataclass(frozen=True)
class Demo:
    """A small config like the nodes' ones."""

    rate_hz: float = field(default=10.0, metadata={"help": "processing rate", "range": (0.1, 100.0)})
    views: int = field(default=3, metadata={"help": "views per object", "range": (1, 24, 1)})
    backend: Literal["auto", "onnxruntime", "torch"] = field(default="auto", metadata={"help": "inference backend"})
    use_tf: bool = field(default=True, metadata={"help": "camera pose from tf2"})
    model: str | None = field(default=None, metadata={"help": "model path (None: the shipped one)"})
    thresholds: tuple[float, ...] = field(default=(0.2, 0.4), metadata={"help": "IoU thresholds"})
    topics: list[str] = field(default_factory=list, metadata={"help": "extra topics"})
    limits: Limits = field(default_factory=Limits, metadata={"help": "planner limits"})

    def __post_init__(self) -> None:
        if self.views > 12 and self.rate_hz > 50:
            raise ValueError("too much work per second")


def params_file(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "params.yaml"
    path.write_text(textwrap.dedent(body))
    return ["--ros-args", "--params-file", str(path)]


def test_defaults_and_descriptors():
    with isolated_node("defaults") as (node, _):
        config = declare_from_dataclass(node, Demo)
        assert config == Demo()
        rate = node.describe_parameter("rate_hz")
        assert rate.type == ParameterType.PARAMETER_DOUBLE and rate.description == "processing rate"
        assert (rate.floating_point_range[0].from_value, rate.floating_point_range[0].to_value) == (0.1, 100.0)
        views = node.describe_parameter("views")
        assert views.integer_range[0].to_value == 24 and views.integer_range[0].step == 1
        assert "one of: auto, onnxruntime, torch" in node.describe_parameter("backend").description
        assert node.describe_parameter("limits.max_step_m").floating_point_range[0].to_value == 2.0
        assert node.describe_parameter("thresholds").type == ParameterType.PARAMETER_DOUBLE_ARRAY


def test_values_from_a_params_file(tmp_path):
    args = params_file(
        tmp_path,
        """
        /**:
          ros__parameters:
            rate_hz: 15.0
            views: 5
            backend: onnxruntime
            use_tf: false
            model: /opt/models/vtr.onnx
            thresholds: [0.3, 0.5, 0.7]
            topics: [a, b]
            limits:
              max_step_m: 1.25
              weights: [2.0]
        """,
    )
    with isolated_node("from_yaml", args=args) as (node, _):
        config = declare_from_dataclass(node, Demo)
    assert config == Demo(
        rate_hz=15.0,
        views=5,
        backend="onnxruntime",
        use_tf=False,
        model="/opt/models/vtr.onnx",
        thresholds=(0.3, 0.5, 0.7),
        topics=["a", "b"],
        limits=Limits(max_step_m=1.25, weights=(2.0,)),
    )
    assert isinstance(config.thresholds, tuple) and isinstance(config.topics, list)


def test_node_specific_section_and_prefix(tmp_path):
    args = params_file(
        tmp_path,
        """
        other_node:
          ros__parameters:
            demo.views: 9
        prefixed:
          ros__parameters:
            demo:
              views: 7
        """,
    )
    with isolated_node("prefixed", args=args) as (node, _):
        config = declare_from_dataclass(node, Demo, prefix="demo.")
        assert config.views == 7
        node.set_parameters([Parameter("demo.views", value=8)])
        assert read_dataclass(node, Demo, prefix="demo.").views == 8


def test_overrides_win_over_base():
    overrides = [
        Parameter("views", value=4),
        Parameter("thresholds", value=[0.1]),
        Parameter("limits.max_step_m", value=0.1),
    ]
    with isolated_node("overrides", parameter_overrides=overrides) as (node, _):
        config = declare_from_dataclass(node, Demo, base=Demo(rate_hz=20.0, views=2))
    assert (config.views, config.thresholds, config.limits.max_step_m, config.rate_hz) == (4, (0.1,), 0.1, 20.0)


def test_dataclass_to_parameters_round_trip():
    wanted = Demo(rate_hz=2.5, backend="torch", model="m.onnx", topics=["x"], limits=Limits(weights=(3.0, 4.0)))
    with isolated_node("round_trip", parameter_overrides=dataclass_to_parameters(wanted)) as (node, _):
        assert declare_from_dataclass(node, Demo) == wanted


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("rate_hz: 500.0", "'rate_hz'.*out of range"),
        ("rate_hz: 10", "'rate_hz' must be of type DOUBLE \\(write a float"),
        ("views: 30", "'views'.*out of range"),
        ("backend: tensorflow", "'backend' must be one of"),
        ("views: 13\n    rate_hz: 60.0", "invalid Demo parameters: too much work"),
    ],
)
def test_bad_values_name_the_parameter(tmp_path, body, message):
    args = params_file(tmp_path, f"/**:\n  ros__parameters:\n    {body}\n")
    with isolated_node("bad", args=args) as (node, _), pytest.raises(ValueError, match=message):
        declare_from_dataclass(node, Demo)


def test_set_out_of_range_later_is_refused():
    with isolated_node("later") as (node, _):
        declare_from_dataclass(node, Demo)
        result = node.set_parameters([Parameter("rate_hz", value=1000.0)])[0]
        assert not result.successful
        assert read_dataclass(node, Demo).rate_hz == 10.0


def test_image_qos_choices():
    from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

    assert image_qos().reliability == ReliabilityPolicy.BEST_EFFORT
    assert image_qos("reliable", depth=2).reliability == ReliabilityPolicy.RELIABLE
    assert image_qos("reliable", depth=2).depth == 2
    assert latched_qos().durability == DurabilityPolicy.TRANSIENT_LOCAL
    with pytest.raises(ValueError, match="sensor_data, reliable"):
        image_qos("best_effort")
