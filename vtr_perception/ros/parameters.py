"""ROS parameters from the library's dataclass configs (vtr_perception.config conventions).

One dataclass serves the CLI, the YAML config files and the node parameters. Each field
becomes a parameter ``<prefix><field>`` with a ParameterDescriptor:

- description: the field's ``help`` metadata (plus the allowed values of a Literal);
- type: bool, int, float, str (also Path and Literal), tuples/lists of those as arrays;
  ``X | None`` with a None default is declared typed but unset, and reads back as None;
- ``metadata={"range": (lo, hi[, step])}`` -> IntegerRange / FloatingPointRange, which rclpy
  enforces on declaration and on every later set;
- ``metadata={"read_only": True}`` -> a read-only parameter; with ``mutable=`` given, every
  parameter not named in it is read-only too (``ros2 param set`` then fails with a reason instead
  of reporting success and changing nothing);
- a nested dataclass field becomes parameters ``<prefix><field>.<subfield>``, which is how
  a nested mapping in a ROS parameter YAML file is flattened.

Values come from ``--ros-args --params-file config/x.yaml`` / launch files (overrides), else
from the dataclass defaults. Bad values raise ValueError naming the parameter.
``watch_dataclass`` applies run-time changes of the mutable ones: it checks a change before it is
set (the dataclass's own checks, choices, and a node's extra check) and hands the new config to
the node after.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
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


def _descriptor(f: dataclasses.Field, spec: _FieldSpec, *, read_only: bool = False) -> ParameterDescriptor:
    description = str(f.metadata.get("help", ""))
    if spec.choices:
        description += f" (one of: {', '.join(map(str, spec.choices))})"
    descriptor = ParameterDescriptor(
        name=spec.name,
        type=spec.parameter_type.value,
        description=description.strip(),
        read_only=read_only or bool(f.metadata.get("read_only", False)),
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


def _declare_one(node: Node, f: dataclasses.Field, spec: _FieldSpec, default: Any, *, read_only: bool) -> None:
    descriptor = _descriptor(f, spec, read_only=read_only)
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


def declare_from_dataclass(
    node: Node, cls: type[T], *, prefix: str = "", base: T | None = None, mutable: Collection[str] | None = None
) -> T:
    """Declare one parameter per field of ``cls`` on ``node`` and return the resulting config.

    Defaults come from ``base`` (an instance) or the dataclass; values given to the node
    (parameter files, overrides) win. ``prefix`` is prepended to every name ("planner.").
    ``mutable``: the field names (without ``prefix``; nested ones as ``section.field``) that may change
    at run time; every other one is declared read-only. None: all may change.
    """
    for f, tp in _fields(cls):
        default = _default(f, base)
        if dataclasses.is_dataclass(tp):
            inner = None if mutable is None else [m[len(f.name) + 1 :] for m in mutable if m.startswith(f"{f.name}.")]
            declare_from_dataclass(node, tp, prefix=f"{prefix}{f.name}.", base=default, mutable=inner)
            continue
        read_only = mutable is not None and f.name not in mutable
        _declare_one(node, f, _spec(prefix + f.name, tp), default, read_only=read_only)
    return read_dataclass(node, cls, prefix=prefix)


def parameter_names(cls: type, *, prefix: str = "") -> list[str]:
    """Every parameter name ``declare_from_dataclass(node, cls, prefix=prefix)`` declares."""
    names = []
    for f, tp in _fields(cls):
        if dataclasses.is_dataclass(tp):
            names += parameter_names(tp, prefix=f"{prefix}{f.name}.")
        else:
            names.append(prefix + f.name)
    return names


def read_dataclass(node: Node, cls: type[T], *, prefix: str = "", changes: dict[str, Any] | None = None) -> T:
    """The config held by the node's (already declared) parameters, e.g. after a ``ros2 param set``.

    ``changes`` (parameter name -> value) stand in for the node's values: the config a set would make."""
    values: dict[str, Any] = {}
    for f, tp in _fields(cls):
        if dataclasses.is_dataclass(tp):
            values[f.name] = read_dataclass(node, tp, prefix=f"{prefix}{f.name}.", changes=changes)
            continue
        spec = _spec(prefix + f.name, tp)
        if changes is not None and spec.name in changes:
            value = changes[spec.name]
        else:
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


def watch_dataclass(
    node: Node,
    cls: type[T],
    apply: Callable[[T], None],
    *,
    prefix: str = "",
    check: Callable[[T], None] | None = None,
) -> None:
    """Apply run-time changes (``ros2 param set``) of ``cls``'s parameters: ``apply(new_config)`` after a set.

    Before a set, the config it would make is built (the dataclass's checks, Literal choices) and passed to
    ``check``; a ValueError from either refuses the set with its message as the reason. Call after declaring.
    """
    names = set(parameter_names(cls, prefix=prefix))

    def before(parameters: list[Parameter]) -> SetParametersResult:
        changes = {p.name: p.value for p in parameters if p.name in names}
        if changes:
            try:
                config = read_dataclass(node, cls, prefix=prefix, changes=changes)
                if check is not None:
                    check(config)
            except (ValueError, TypeError) as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def after(parameters: list[Parameter]) -> None:
        if any(p.name in names for p in parameters):
            apply(read_dataclass(node, cls, prefix=prefix))

    node.add_on_set_parameters_callback(before)
    node.add_post_set_parameters_callback(after)


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
