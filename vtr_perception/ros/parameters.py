"""ROS parameters from the library's dataclass configs (vtr_perception.config conventions).

One dataclass serves the CLI, the YAML config files and the node parameters. Each field
becomes a parameter ``<prefix><field>`` with a ParameterDescriptor:

- description: the field's ``help`` metadata (plus the allowed values of a Literal);
- type: bool, int, float, str (also Path and Literal), tuples/lists of those as arrays;
  ``X | None`` with a None default is declared typed but unset, and reads back as None;
- ``metadata={"range": (lo, hi[, step])}`` -> IntegerRange / FloatingPointRange, which rclpy
  enforces on declaration and on every later set;
- ``metadata={"read_only": True}`` -> a read-only parameter;
- a nested dataclass field becomes parameters ``<prefix><field>.<subfield>``, which is how
  a nested mapping in a ROS parameter YAML file is flattened.

Values come from ``--ros-args --params-file config/x.yaml`` / launch files (overrides), else
from the dataclass defaults. Bad values raise ValueError naming the parameter.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, ParameterException, ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter

T = TypeVar("T")

_SCALAR_TYPES = {
    bool: Parameter.Type.BOOL,
    int: Parameter.Type.INTEGER,
    float: Parameter.Type.DOUBLE,
    str: Parameter.Type.STRING,
    Path: Parameter.Type.STRING,
}
_ARRAY_TYPES = {
    bool: Parameter.Type.BOOL_ARRAY,
    int: Parameter.Type.INTEGER_ARRAY,
    float: Parameter.Type.DOUBLE_ARRAY,
    str: Parameter.Type.STRING_ARRAY,
    Path: Parameter.Type.STRING_ARRAY,
}


@dataclasses.dataclass(frozen=True)
class _FieldSpec:
    """How one dataclass field maps to one ROS parameter."""

    name: str
    scalar: type  # the element type (bool, int, float, str, Path)
    container: type | None  # tuple or list for arrays
    choices: tuple | None  # allowed values of a Literal
    optional: bool

    @property
    def parameter_type(self) -> Parameter.Type:
        return (_ARRAY_TYPES if self.container else _SCALAR_TYPES)[self.scalar]


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"union {tp} cannot be a ROS parameter")
        return args[0], True
    return tp, False


def _spec(name: str, tp: Any) -> _FieldSpec:
    tp, optional = _strip_optional(tp)
    container, choices = None, None
    if typing.get_origin(tp) in (tuple, list):
        container = typing.get_origin(tp)
        inner = [a for a in typing.get_args(tp) if a is not Ellipsis]
        if len(set(inner)) > 1:
            raise TypeError(f"field {name!r}: mixed tuple {tp} cannot be a ROS parameter")
        tp = inner[0] if inner else str
    if typing.get_origin(tp) is typing.Literal:
        choices = typing.get_args(tp)
        tp = type(choices[0])
    if tp not in _SCALAR_TYPES:
        raise TypeError(f"field {name!r} of type {tp} cannot be a ROS parameter")
    return _FieldSpec(name=name, scalar=tp, container=container, choices=choices, optional=optional)


def _default(f: dataclasses.Field, base: Any) -> Any:
    if base is not None:
        return getattr(base, f.name)
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def _descriptor(f: dataclasses.Field, spec: _FieldSpec) -> ParameterDescriptor:
    description = str(f.metadata.get("help", ""))
    if spec.choices:
        description += f" (one of: {', '.join(map(str, spec.choices))})"
    descriptor = ParameterDescriptor(
        name=spec.name,
        type=spec.parameter_type.value,
        description=description.strip(),
        read_only=bool(f.metadata.get("read_only", False)),
    )
    if spec.choices:
        descriptor.additional_constraints = "one of: " + ", ".join(map(str, spec.choices))
    value_range = f.metadata.get("range")
    if value_range is not None:
        lo, hi, *rest = value_range
        step = rest[0] if rest else 0
        if spec.scalar is int:
            descriptor.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=int(step))]
        elif spec.scalar is float:
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(lo), to_value=float(hi), step=float(step))
            ]
    return descriptor


def _to_parameter_value(spec: _FieldSpec, value: Any) -> Any:
    if spec.container:
        return [spec.scalar(v) if spec.scalar is not Path else str(v) for v in value]
    return str(value) if spec.scalar is Path else spec.scalar(value)


def _from_parameter_value(spec: _FieldSpec, value: Any) -> Any:
    if value is None:  # declared without a value: optional unset, or an empty array
        return None if spec.optional or not spec.container else spec.container()
    if spec.container:
        items = [spec.scalar(v) for v in value]
        if spec.choices:
            for item in items:
                _check_choice(spec, item)
        return spec.container(items)
    if spec.choices:
        _check_choice(spec, value)
    return spec.scalar(value)


def _check_choice(spec: _FieldSpec, value: Any) -> None:
    if value not in spec.choices:
        choices = ", ".join(map(repr, spec.choices))
        raise ValueError(f"ROS parameter {spec.name!r} must be one of {choices}, got {value!r}")


def _fields(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls} is not a dataclass")
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls) if f.init]


def _declare_one(node: Node, f: dataclasses.Field, spec: _FieldSpec, default: Any) -> None:
    descriptor = _descriptor(f, spec)
    empty = default is None or (spec.container is not None and len(default) == 0)
    value = spec.parameter_type if empty else _to_parameter_value(spec, default)
    try:
        node.declare_parameter(spec.name, value, descriptor)
    except InvalidParameterTypeException as exc:
        hint = " (write a float such as 1.0, not 1)" if spec.scalar is float else ""
        raise ValueError(
            f"ROS parameter {spec.name!r} must be of type {spec.parameter_type.name}{hint}: {exc}"
        ) from exc
    except ParameterException as exc:
        raise ValueError(f"ROS parameter {spec.name!r}: {exc}") from exc


def declare_from_dataclass(node: Node, cls: type[T], *, prefix: str = "", base: T | None = None) -> T:
    """Declare one parameter per field of ``cls`` on ``node`` and return the resulting config.

    Defaults come from ``base`` (an instance) or the dataclass; values given to the node
    (parameter files, overrides) win. ``prefix`` is prepended to every name ("planner.").
    """
    for f, tp in _fields(cls):
        default = _default(f, base)
        if dataclasses.is_dataclass(tp):
            declare_from_dataclass(node, tp, prefix=f"{prefix}{f.name}.", base=default)
            continue
        _declare_one(node, f, _spec(prefix + f.name, tp), default)
    return read_dataclass(node, cls, prefix=prefix)


def read_dataclass(node: Node, cls: type[T], *, prefix: str = "") -> T:
    """The config held by the node's (already declared) parameters, e.g. after a ``ros2 param set``."""
    values: dict[str, Any] = {}
    for f, tp in _fields(cls):
        if dataclasses.is_dataclass(tp):
            values[f.name] = read_dataclass(node, tp, prefix=f"{prefix}{f.name}.")
            continue
        spec = _spec(prefix + f.name, tp)
        try:
            value = node.get_parameter(spec.name).value
        except ParameterUninitializedException:  # declared typed without a value (None / empty default)
            value = None
        values[f.name] = _from_parameter_value(spec, value)
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        where = f" (prefix {prefix!r})" if prefix else ""
        raise ValueError(f"invalid {cls.__name__} parameters{where}: {exc}") from exc


def dataclass_to_parameters(config: Any, *, prefix: str = "") -> list[Parameter]:
    """``Parameter`` objects holding ``config`` (for ``parameter_overrides`` and tests)."""
    parameters = []
    for f, tp in _fields(type(config)):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(tp):
            parameters += dataclass_to_parameters(value, prefix=f"{prefix}{f.name}.")
            continue
        spec = _spec(prefix + f.name, tp)
        if value is None or (spec.container and len(value) == 0):
            continue
        parameters.append(Parameter(spec.name, spec.parameter_type, _to_parameter_value(spec, value)))
    return parameters
