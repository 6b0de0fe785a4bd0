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

from google.protobuf import timestamp_pb2
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


# How each field of a cell type travels: its name, the enum's numbering (or None).
_FieldPlan = tuple[str, proto_enums.ProtoEnum[Any] | None]
_FIELD_PLANS: dict[type[Cell], tuple[Any, tuple[_FieldPlan, ...]]] = {}


def _field_plan(cell_type: type[Cell]) -> tuple[Any, tuple[_FieldPlan, ...]]:
    """The proto message of the cell type's body, and how each of its fields travels."""
    found = _FIELD_PLANS.get(cell_type)
    if found is None:
        found = _FIELD_PLANS[cell_type] = _plan_of(cell_type)
    return found


def _plan_of(cell_type: type[Cell]) -> tuple[Any, tuple[_FieldPlan, ...]]:
    body = getattr(benchmarks_pb2.BenchmarkCell(), _CELL_FIELDS[cell_type])
    plan: list[_FieldPlan] = []
    for field in dataclasses.fields(cell_type):
        descriptor = body.DESCRIPTOR.fields_by_name[field.name]
        numbering = (
            proto_enums.for_descriptor(descriptor.enum_type)
            if descriptor.type == FieldDescriptor.TYPE_ENUM
            else None
        )
        plan.append((field.name, numbering))
    return type(body), tuple(plan)


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment.astimezone(UTC))
    return message


def cell_to_proto(
    cell: Cell, *, as_of: datetime | timestamp_pb2.Timestamp, revision: int = 0
) -> benchmarks_pb2.BenchmarkCell:
    """`as_of` may be given as a Timestamp already: a release converts its as_of once."""
    body_type, plan = _field_plan(type(cell))
    values: dict[str, Any] = {}
    for name, numbering in plan:
        value = getattr(cell, name)
        if value is None:
            continue
        values[name] = value if numbering is None else numbering.number(value)
    return benchmarks_pb2.BenchmarkCell(
        key=cell.key,
        revision=revision,
        as_of=as_of if isinstance(as_of, timestamp_pb2.Timestamp) else timestamp(as_of),
        **{_CELL_FIELDS[type(cell)]: body_type(**values)},
    )


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
