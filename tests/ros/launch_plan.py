"""What ``ros2 launch`` would start from a launch file, without launch or launch_ros (not pip wheels here).

The launch file runs as written, its ``launch`` and ``launch_ros`` imports answered by small stand-ins
that record what they are given; ``plan_launch`` then evaluates that record as ``ros2 launch`` does:
launch arguments (given ones, else each DeclareLaunchArgument's default, in order), included
descriptions with their ``launch_arguments`` on top of the including file's, conditions, substitutions
(LaunchConfiguration, PathJoinSubstitution, FindPackageShare = this checkout) and each Node's parameters
(parameter files and dicts, ParameterValue typed) and remappings. ``PlannedNode.ros_args`` gives the
command line launch_ros builds for it: ``__node``/``__ns`` remaps, one ``--params-file`` per entry of
``parameters`` (a dict written as a ``/**`` file, as launch_ros does), then the remappings. Anything the
stand-ins do not know (a new import or substitution type) fails with a message naming it.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "vtr_perception"


class Recorded:
    """A stand-in for a launch class: keeps its positional and keyword arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


class LaunchDescription(Recorded):
    pass


class DeclareLaunchArgument(Recorded):
    pass


class IncludeLaunchDescription(Recorded):
    pass


class PythonLaunchDescriptionSource(Recorded):
    pass


class IfCondition(Recorded):
    pass


class UnlessCondition(Recorded):
    pass


class LaunchConfiguration(Recorded):
    pass


class PathJoinSubstitution(Recorded):
    pass


class TextSubstitution(Recorded):
    pass


class FindPackageShare(Recorded):
    pass


class Node(Recorded):
    pass


class ParameterValue(Recorded):
    pass


STAND_INS = {
    "launch": {"LaunchDescription": LaunchDescription},
    "launch.actions": {"DeclareLaunchArgument": DeclareLaunchArgument,
                       "IncludeLaunchDescription": IncludeLaunchDescription},
    "launch.conditions": {"IfCondition": IfCondition, "UnlessCondition": UnlessCondition},
    "launch.launch_description_sources": {"PythonLaunchDescriptionSource": PythonLaunchDescriptionSource},
    "launch.substitutions": {"LaunchConfiguration": LaunchConfiguration,
                             "PathJoinSubstitution": PathJoinSubstitution, "TextSubstitution": TextSubstitution},
    "launch_ros": {},
    "launch_ros.actions": {"Node": Node},
    "launch_ros.parameter_descriptions": {"ParameterValue": ParameterValue},
    "launch_ros.substitutions": {"FindPackageShare": FindPackageShare},
}  # fmt: skip


@contextlib.contextmanager
def _stand_ins() -> Iterator[None]:
    """The stand-in modules in sys.modules for the duration (whatever was there before is put back)."""
    saved = {name: sys.modules.get(name) for name in STAND_INS}
    try:
        for name, members in STAND_INS.items():
            module = types.ModuleType(name)
            module.__path__ = []  # a package, so that its submodules import
            module.__dict__.update(members)
            sys.modules[name] = module
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def load_description(path: Path) -> LaunchDescription:
    """``generate_launch_description()`` of the launch file at ``path``, built from the stand-ins."""
    with _stand_ins():
        spec = importlib.util.spec_from_file_location(f"_launch_{path.name.split('.')[0]}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except ImportError as exc:
            raise AssertionError(f"{path.name}: {exc}; tests/ros/launch_plan.py has no stand-in for it") from exc
        return module.generate_launch_description()


def resolve(value: Any, configs: dict[str, str]) -> str:
    """A substitution (or list of them, or text) as a string under the launch configurations ``configs``."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "".join(resolve(v, configs) for v in value)
    if isinstance(value, LaunchConfiguration):
        name = value.args[0]
        if name not in configs:
            raise AssertionError(f"launch configuration {name!r} is read but was never declared or given")
        return configs[name]
    if isinstance(value, TextSubstitution):
        return value.kwargs["text"]
    if isinstance(value, PathJoinSubstitution):
        return str(Path(*(resolve(part, configs) for part in value.args[0])))
    if isinstance(value, FindPackageShare):
        assert resolve(value.args[0], configs) == PACKAGE, f"FindPackageShare of another package: {value.args}"
        return str(REPO)  # the source checkout holds the files the share dir installs
    raise AssertionError(f"tests/ros/launch_plan.py cannot evaluate {type(value).__name__}")


def _typed(value: Any, configs: dict[str, str]) -> Any:
    """A parameter value as launch_ros passes it (ParameterValue with value_type: YAML-parsed, type-checked)."""
    if not isinstance(value, ParameterValue):
        return value if isinstance(value, (bool, int, float)) else resolve(value, configs)
    text = resolve(value.args[0], configs)
    kind = value.kwargs.get("value_type")
    if kind is None or kind is str:
        return text if kind is str else yaml.safe_load(text)
    parsed = yaml.safe_load(text)
    if kind is float and isinstance(parsed, int) and not isinstance(parsed, bool):
        parsed = float(parsed)
    if not isinstance(parsed, kind) or (kind is int and isinstance(parsed, bool)):
        raise AssertionError(f"launch value {text!r} is not a {kind.__name__}")
    return parsed


def _condition_holds(condition: Any, configs: dict[str, str]) -> bool:
    if condition is None:
        return True
    text = resolve(condition.args[0], configs).strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise AssertionError(f"a condition evaluates to {text!r}, not a boolean")
    return (text in ("true", "1")) == isinstance(condition, IfCondition)


@dataclass
class PlannedNode:
    """A Node action as ``ros2 launch`` would run it."""

    package: str
    executable: str
    name: str | None
    namespace: str | None
    parameters: list[Path | dict[str, Any]] = field(default_factory=list)
    remappings: list[tuple[str, str]] = field(default_factory=list)

    def ros_args(self, params_dir: Path) -> list[str]:
        """``--ros-args ...`` as launch_ros builds it (dict parameters written to files in ``params_dir``)."""
        args = ["--ros-args"]
        if self.name is not None:
            args += ["-r", f"__node:={self.name}"]
        if self.namespace is not None:
            args += ["-r", f"__ns:=/{self.namespace.lstrip('/')}"]
        for k, params in enumerate(self.parameters):
            if isinstance(params, dict):
                path = params_dir / f"{self.name or self.executable}_{k}.yaml"
                path.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
                params = path
            args += ["--params-file", str(params)]
        for src, dst in self.remappings:
            args += ["-r", f"{src}:={dst}"]
        return args

    def parameter_values(self) -> dict[str, Any]:
        """The node's parameters as the files and dicts set them, later entries winning (``/**`` sections)."""
        from vtr_perception.resources import section_parameters

        out: dict[str, Any] = {}
        for params in self.parameters:
            values = params if isinstance(params, dict) else _flat(
                section_parameters(yaml.safe_load(Path(params).read_text()), self.name or ""))  # fmt: skip
            out.update(values)
        return out


def _flat(values: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _plan_node(node: Node, configs: dict[str, str]) -> PlannedNode:
    kw = node.kwargs
    parameters: list[Path | dict[str, Any]] = []
    for entry in kw.get("parameters") or []:
        if isinstance(entry, dict):
            parameters.append(_flat({resolve(k, configs): _typed(v, configs) for k, v in entry.items()}))
        else:
            path = Path(resolve(entry, configs))
            assert path.is_file(), f"parameter file {path} (of {kw.get('executable')}) does not exist"
            parameters.append(path)
    namespace = kw.get("namespace")
    return PlannedNode(
        package=resolve(kw["package"], configs),
        executable=resolve(kw["executable"], configs),
        name=None if kw.get("name") is None else resolve(kw["name"], configs),
        namespace=None if namespace is None else resolve(namespace, configs),
        parameters=parameters,
        remappings=[(resolve(a, configs), resolve(b, configs)) for a, b in kw.get("remappings") or []],
    )


def _evaluate(description: LaunchDescription, configs: dict[str, str]) -> list[PlannedNode]:
    nodes = []
    for entity in description.args[0]:
        if isinstance(entity, DeclareLaunchArgument):
            name = entity.args[0]
            if name not in configs:
                default = entity.kwargs.get("default_value")
                assert default is not None, f"launch argument {name!r} has no default and was not given"
                configs[name] = resolve(default, configs)
        elif isinstance(entity, Node):
            if _condition_holds(entity.kwargs.get("condition"), configs):
                nodes.append(_plan_node(entity, configs))
        elif isinstance(entity, IncludeLaunchDescription):
            source = entity.args[0]
            path = Path(resolve(source.args[0], configs))
            given = {resolve(k, configs): resolve(v, configs) for k, v in entity.kwargs.get("launch_arguments", ())}
            nodes += _evaluate(load_description(path), {**configs, **given})
        else:
            raise AssertionError(f"tests/ros/launch_plan.py cannot evaluate a {type(entity).__name__}")
    return nodes


def declared_arguments(path: Path) -> set[str]:
    return {e.args[0] for e in load_description(path).args[0] if isinstance(e, DeclareLaunchArgument)}


def plan_launch(path: Path, arguments: dict[str, str] | None = None) -> list[PlannedNode]:
    """The nodes ``ros2 launch <path> name:=value ...`` starts, in order; each argument must be declared."""
    arguments = dict(arguments or {})
    unknown = set(arguments) - declared_arguments(path)
    assert not unknown, f"{path.name} declares no launch argument {sorted(unknown)}"
    return _evaluate(load_description(path), arguments)


def console_script_module(executable: str) -> str:
    """The module whose ``main`` setup.py installs as the console script ``executable``."""
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "console_scripts":
                    entries = dict(e.replace(" ", "").split("=") for e in ast.literal_eval(value))
                    target = entries.get(executable)
                    assert target is not None and target.endswith(":main"), f"no console script {executable!r}"
                    return target.removesuffix(":main")
    raise AssertionError("setup.py has no console_scripts")
