"""Typed dataclass configs shared by the CLI, ROS parameter files and tests.

Each config is a plain dataclass whose fields carry a ``help`` text in their metadata
(``field(default=..., metadata={"help": "..."})``). This module turns such a dataclass
into argparse flags, reads it from a YAML file and writes it back, so one definition
serves every front end. The ROS adapter (ros/parameters.py) declares node parameters
from the same fields.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


def field_help(f: dataclasses.Field) -> str:
    return str(f.metadata.get("help", ""))


def _base_type(tp: Any) -> Any:
    """int | None -> int; Literal['a', 'b'] -> str; tuple[...] stays a tuple type."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else str
    if origin is typing.Literal:
        return type(typing.get_args(tp)[0])
    return tp


def _resolved_fields(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls) if f.init]


def add_arguments(parser: argparse.ArgumentParser, cls: type, *, skip: tuple[str, ...] = ()) -> None:
    """Add one ``--flag`` per dataclass field (underscores become dashes)."""
    group = parser.add_argument_group(cls.__name__, (cls.__doc__ or "").strip().splitlines()[0])
    for f, tp in _resolved_fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        base = _base_type(tp)
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        # argparse %-formats help texts: a literal "%" ("cosine to 5%") must be doubled
        help_text = f"{field_help(f)} (default: {default})".replace("%", "%%")
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        if typing.get_origin(tp) is typing.Literal:
            kwargs["choices"] = list(typing.get_args(tp))
        if base is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(base) in (tuple, list):
            inner = typing.get_args(base)[0] if typing.get_args(base) else str
            kwargs["type"] = _base_type(inner)
            kwargs["nargs"] = "+"
        else:
            kwargs["type"] = base
        group.add_argument(flag, **kwargs)


def from_mapping(cls: type[T], values: dict[str, Any], *, base: T | None = None) -> T:
    """Build ``cls`` from a mapping, starting from ``base`` (or the defaults); unknown keys fail."""
    names = {f.name: tp for f, tp in _resolved_fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} option(s): {', '.join(unknown)}")
    converted = {}
    for key, value in values.items():
        origin = typing.get_origin(_base_type(names[key]))
        converted[key] = tuple(value) if origin is tuple and isinstance(value, list) else value
    if base is None:
        return cls(**converted)
    return dataclasses.replace(base, **converted)  # type: ignore[type-var]


def from_args(cls: type[T], args: argparse.Namespace, *, base: T | None = None) -> T:
    """The config given on the command line, layered over ``base`` (e.g. a YAML file)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return from_mapping(cls, {k: v for k, v in vars(args).items() if k in names}, base=base)


def load_yaml(cls: type[T], path: str | Path, *, section: str | None = None) -> T:
    """Read ``cls`` from a YAML file, optionally from one top-level section of it."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read config {path}: {exc}") from exc
    if section is not None:
        data = data.get(section, {}) or {}
    if not isinstance(data, dict):
        raise ValueError(f"config {path} must hold a mapping, got {type(data).__name__}")
    return from_mapping(cls, data)


def to_dict(config: Any) -> dict[str, Any]:
    """A YAML/JSON-ready dict (tuples become lists)."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            value = to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out
