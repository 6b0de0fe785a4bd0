"""Benchmark cells ↔ protobuf: the dataclasses of the domain core and `jedi.v1.BenchmarkCell`.

The proto messages mirror the cell dataclasses field for field, so the translation is by
field name: a string enum travels as the proto enum value named after its value, `None` as an absent
optional field, a tuple as a repeated field. Cells come from our own processor, so a cell
that does not fit the contract is a programming error and raises.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import Enum

from google.protobuf.descriptor import FieldDescriptor

from jedi.v1 import benchmarks_pb2
from shared.domain.benchmark_set import (
    Cell,
    DistributionCell,
    Measure,
    RankCell,
    ReachCell,
)
from shared.domain.cells import (
    ChangeCell,
    ChangeDirection,
    CompositeCell,
    DisparityCell,
    Experience,
    ExperienceCell,
    ResponseCell,
)
from shared.domain.model import Composite, Wave

# oneof field name in BenchmarkCell for each cell type
_CELL_FIELDS: dict[type, str] = {
    CompositeCell: "composite",
    ResponseCell: "response",
    ExperienceCell: "experience",
    DisparityCell: "disparity",
    ChangeCell: "change",
    DistributionCell: "distribution",
    RankCell: "rank",
    ReachCell: "reach",
}
_CELL_TYPES = {name: kind for kind, name in _CELL_FIELDS.items()}
# Which domain enum a proto enum field holds, by the proto enum's name.
_ENUMS: dict[str, type[Enum]] = {
    "Wave": Wave,
    "Composite": Composite,
    "Experience": Experience,
    "ChangeDirection": ChangeDirection,
    "Measure": Measure,
}


def _enum_prefix(proto_enum_name: str) -> str:
    return (
        "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(proto_enum_name)).upper()
        + "_"
    )


def cell_to_proto(
    cell: Cell, *, as_of: datetime, revision: int = 0
) -> benchmarks_pb2.BenchmarkCell:
    message = benchmarks_pb2.BenchmarkCell(key=cell.key, revision=revision)
    message.as_of.FromDatetime(as_of.astimezone(UTC))
    body = getattr(message, _CELL_FIELDS[type(cell)])
    body.SetInParent()
    for field in dataclasses.fields(cell):
        value = getattr(cell, field.name)
        descriptor = body.DESCRIPTOR.fields_by_name[field.name]
        if value is None:
            continue
        if descriptor.type == FieldDescriptor.TYPE_ENUM:
            enum_type = descriptor.enum_type
            value = enum_type.values_by_name[
                _enum_prefix(enum_type.name) + value.value.upper()
            ].number
        if descriptor.is_repeated:
            getattr(body, field.name).extend(value)
        else:
            setattr(body, field.name, value)
    return message


def cell_from_proto(message: benchmarks_pb2.BenchmarkCell) -> Cell:
    kind = message.WhichOneof("cell")
    if kind is None:
        raise ValueError(f"benchmark cell {message.key!r} has no body")
    cell_type = _CELL_TYPES[kind]
    body = getattr(message, kind)
    values = {}
    for field in dataclasses.fields(cell_type):
        descriptor = body.DESCRIPTOR.fields_by_name[field.name]
        value = getattr(body, field.name)
        if descriptor.has_presence and not body.HasField(field.name):
            value = None
        elif descriptor.type == FieldDescriptor.TYPE_ENUM:
            enum_type = descriptor.enum_type
            name = enum_type.values_by_number[value].name.removeprefix(_enum_prefix(enum_type.name))
            value = _ENUMS[enum_type.name](name.lower())
        elif descriptor.is_repeated:
            value = tuple(value)
        values[field.name] = value
    return cell_type(**values)


def cell_as_of(message: benchmarks_pb2.BenchmarkCell) -> datetime:
    return message.as_of.ToDatetime(tzinfo=UTC)
