"""Benchmark cells ↔ protobuf: the dataclasses of the domain core and `jedi.v1.BenchmarkCell`.

The proto messages mirror the cell dataclasses field for field, so the translation is by
field name: a string enum travels as the proto enum value named after its value, `None` as an absent
optional field, a tuple as a repeated field. Cells come from our own processor, so a cell
that does not fit the contract is a programming error and raises.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from jedi.v1 import benchmarks_pb2
from shared import proto_enums
from shared.domain.benchmark_set import (
    Cell,
    DistributionCell,
    RankCell,
    ReachCell,
)
from shared.domain.cells import (
    ChangeCell,
    CompositeCell,
    DisparityCell,
    ExperienceCell,
    ResponseCell,
)

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
_CELL_TYPES: dict[str, type[Cell]] = {name: kind for kind, name in _CELL_FIELDS.items()}


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
            value = proto_enums.for_descriptor(descriptor.enum_type).number(value)
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
    values: dict[str, Any] = {}  # each value as its descriptor types it
    for field in dataclasses.fields(cell_type):
        descriptor = body.DESCRIPTOR.fields_by_name[field.name]
        value = getattr(body, field.name)
        if descriptor.has_presence and not body.HasField(field.name):
            value = None
        elif descriptor.type == FieldDescriptor.TYPE_ENUM:
            member = proto_enums.for_descriptor(descriptor.enum_type).member(value)
            if member is None:
                raise ValueError(
                    f"benchmark cell {message.key!r}: {field.name} {value} is no value"
                )
            value = member
        elif descriptor.is_repeated:
            value = tuple(value)
        values[field.name] = value
    cell: Cell = cell_type(**values)
    return cell


def cell_as_of(message: benchmarks_pb2.BenchmarkCell) -> datetime:
    as_of: datetime = message.as_of.ToDatetime(tzinfo=UTC)
    return as_of
