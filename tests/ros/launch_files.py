"""Read the nodes a launch file starts, with their parameters and remappings, without launch_ros.

launch and launch_ros are not pip wheels. This imports a launch file against small stand-ins of the
few launch classes the shipped files use, evaluates its launch arguments (defaults, or values given
as ``name:=value`` would be), follows IncludeLaunchDescription, and returns each Node action as a
``LaunchedNode``: what ``ros2 launch`` would run, read from the file rather than restated by a test.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


class _Substitution:
    def resolve(self, values: dict[str, str]) -> str:
        raise NotImplementedError


class LaunchConfiguration(_Substitution):
    def __init__(self, name: str) -> None:
        self.name = name

    def resolve(self, values: dict[str, str]) -> str:
        return values[self.name]


class FindPackageShare(_Substitution):
    def __init__(self, package: str) -> None:
        self.package = package

    def resolve(self, values: dict[str, str]) -> str:
        return str(REPO)  # the source checkout is laid out as share/<package>


class PathJoinSubstitution(_Substitution):
    def __init__(self, parts: list) -> None:
        self.parts = parts

    def resolve(self, values: dict[str, str]) -> str:
        return str(Path(*[resolve(p, values) for p in self.parts]))


class ParameterValue:
    def __init__(self, value: Any, value_type: type = str) -> None:
        self.value, self.value_type = value, value_type


class DeclareLaunchArgument:
    def __init__(self, name: str, default_value: Any = None, description: str = "") -> None:
        self.name, self.default_value, self.description = name, default_value, description


class IfCondition:
    def __init__(self, predicate: Any) -> None:
        self.predicate = predicate

    def holds(self, values: dict[str, str]) -> bool:
        return str(resolve(self.predicate, values)).lower() in ("true", "1")


class Node:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


class PythonLaunchDescriptionSource:
    def __init__(self, path: Any) -> None:
        self.path = path


class IncludeLaunchDescription:
    def __init__(self, source: PythonLaunchDescriptionSource, launch_arguments: Any = ()) -> None:
        self.source, self.launch_arguments = source, dict(launch_arguments)


class LaunchDescription:
    def __init__(self, entities: list) -> None:
        self.entities = list(entities)


def resolve(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, _Substitution):
        return value.resolve(values)
    if isinstance(value, ParameterValue):
        raw = resolve(value.value, values)
        if value.value_type is bool:
            return str(raw).lower() == "true"
        return value.value_type(raw)
    if isinstance(value, (list, tuple)):
        return "".join(str(resolve(v, values)) for v in value)
    return value


def _stand_in_modules() -> dict[str, types.ModuleType]:
    contents = {
        "launch": {"LaunchDescription": LaunchDescription},
        "launch.actions": {
            "DeclareLaunchArgument": DeclareLaunchArgument,
            "IncludeLaunchDescription": IncludeLaunchDescription,
        },  # fmt: skip
        "launch.conditions": {"IfCondition": IfCondition},
        "launch.launch_description_sources": {"PythonLaunchDescriptionSource": PythonLaunchDescriptionSource},
        "launch.substitutions": {
            "LaunchConfiguration": LaunchConfiguration,
            "PathJoinSubstitution": PathJoinSubstitution,
        },  # fmt: skip
        "launch_ros": {},
        "launch_ros.actions": {"Node": Node},
        "launch_ros.parameter_descriptions": {"ParameterValue": ParameterValue},
        "launch_ros.substitutions": {"FindPackageShare": FindPackageShare},
    }
    modules = {}
    for name, attributes in contents.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        modules[name] = module
    return modules


@dataclass
class LaunchedNode:
    """One Node action, evaluated: what ``ros2 launch`` runs."""

    package: str
    executable: str
    name: str
    namespace: str
    params_files: list[Path] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)  # overrides, in order (later win)
    remappings: dict[str, str] = field(default_factory=dict)

    def ros_args(self) -> list[str]:
        """The --ros-args ros2 launch gives the node process."""
        args = ["--ros-args", "-r", f"__node:={self.name}"]
        if self.namespace:
            args += ["-r", f"__ns:={self.namespace if self.namespace.startswith('/') else '/' + self.namespace}"]
        for path in self.params_files:
            args += ["--params-file", str(path)]
        for key, value in self.parameters.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            args += ["-p", f"{key}:={text if text != '' else chr(39) * 2}"]
        for src, dst in self.remappings.items():
            args += ["-r", f"{src}:={dst}"]
        return args


def _load_module(path: Path) -> types.ModuleType:
    saved = {name: sys.modules.get(name) for name in _stand_in_modules()}
    sys.modules.update(_stand_in_modules())
    try:
        spec = importlib.util.spec_from_file_location(path.name.replace(".", "_"), path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def launched_nodes(path: Path, arguments: dict[str, str] | None = None) -> list[LaunchedNode]:
    """The nodes ``ros2 launch <path> name:=value ...`` starts, includes followed, conditions applied."""
    description = _load_module(Path(path)).generate_launch_description()
    values: dict[str, str] = {}
    given = dict(arguments or {})
    nodes = []
    for entity in description.entities:
        if isinstance(entity, DeclareLaunchArgument):
            default = given.get(entity.name, entity.default_value)
            values[entity.name] = resolve(default, values)
        elif isinstance(entity, IncludeLaunchDescription):
            included = Path(resolve(entity.source.path, values))
            forwarded = {k: str(resolve(v, values)) for k, v in entity.launch_arguments.items()}
            nodes += launched_nodes(included, forwarded)
        elif isinstance(entity, Node):
            kw = entity.kwargs
            condition = kw.get("condition")
            if condition is not None and not condition.holds(values):
                continue
            node = LaunchedNode(kw["package"], kw["executable"], kw.get("name", kw["executable"]),
                                str(resolve(kw.get("namespace", ""), values)))  # fmt: skip
            for item in kw.get("parameters", []):
                if isinstance(item, dict):
                    node.parameters.update({k: resolve(v, values) for k, v in item.items()})
                else:
                    node.params_files.append(Path(resolve(item, values)))
            node.remappings = {src: str(resolve(dst, values)) for src, dst in kw.get("remappings", [])}
            nodes.append(node)
    return nodes
