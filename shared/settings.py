"""Typed settings read from the environment: one frozen dataclass per service.

Each field maps to an environment variable: its `env` metadata when given, otherwise
`JEDI_<FIELD_NAME>`. Defaults live on the dataclass; values are converted to the
field's annotated type, and a bad value fails loudly naming the variable.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingsError(ValueError):
    """An environment variable holds a value its setting cannot take."""


def env_var(name: str, default: Any = dataclasses.MISSING, *, secret: bool = False) -> Any:
    """A settings field read from the environment variable `name` instead of `JEDI_<FIELD>`.

    A `secret` one (a password) is left out of the settings' repr, so a log line never shows it.
    """
    return dataclasses.field(default=default, metadata={"env": name}, repr=not secret)


def load_settings(cls: type[T], environ: Mapping[str, str] | None = None, **overrides: Any) -> T:
    """Build `cls` from defaults, then the environment, then explicit `overrides`."""
    environ = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    errors: list[str] = []
    for field in dataclasses.fields(cls):
        if field.name in overrides:
            values[field.name] = overrides[field.name]
            continue
        name = field.metadata.get("env", f"JEDI_{field.name.upper()}")
        if name in environ:
            try:
                values[field.name] = _convert(environ[name], hints[field.name], name)
            except SettingsError as error:
                errors.append(str(error))
    if errors:
        raise SettingsError("; ".join(errors))  # every bad variable at once, not the first only
    return cls(**values)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(raw: str) -> timedelta:
    """A positive duration written as a number and a unit: "250ms", "5s", "30m", "6h", "1d"."""
    found = _DURATION.match(raw)
    if found is None:
        raise ValueError('expected a duration such as "1d", "6h", "30m", "5s" or "250ms"')
    duration = timedelta(seconds=float(found.group(1)) * _UNITS[found.group(2)])
    if duration <= timedelta(0):
        raise ValueError("a duration must be positive")
    return duration


def _convert(raw: str, annotation: Any, name: str) -> Any:
    optional = type(None) in typing.get_args(annotation)
    if optional:
        if raw == "":
            return None
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    try:
        if annotation is bool:
            lowered = raw.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError("expected true/false")
        if annotation is int:
            return int(raw)
        if annotation is float:
            return float(raw)
        if annotation is timedelta:
            return parse_duration(raw)
        if annotation is Path:
            return Path(raw)
        if typing.get_origin(annotation) is Literal:
            choices = typing.get_args(annotation)
            if raw not in choices:
                raise ValueError(f"expected one of {', '.join(choices)}")
            return raw
        if typing.get_origin(annotation) is tuple:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return annotation(raw)
    except ValueError as error:
        raise SettingsError(f"{name}={raw!r}: {error}") from error
