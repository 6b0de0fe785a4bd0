"""Request enums (open on the wire: any number can arrive) ↔ the domain's string enums.

Proto value names are the domain member names with the enum's prefix (`WAVE_FOLLOW_UP` ↔
`Wave.FOLLOW_UP`), as in shared/convert_benchmarks.py.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from google.protobuf.descriptor import EnumDescriptor

from jedi.v1 import benchmarks_pb2, common_pb2, query_pb2
from services.query.errors import bad_argument
from shared.domain.benchmark_set import Measure
from shared.domain.model import Composite, GroupDimension, Wave

E = TypeVar("E", bound=Enum)

_DESCRIPTORS: dict[type[Enum], EnumDescriptor] = {
    Wave: common_pb2.Wave.DESCRIPTOR,
    Composite: common_pb2.Composite.DESCRIPTOR,
    GroupDimension: common_pb2.GroupDimension.DESCRIPTOR,
    Measure: benchmarks_pb2.Measure.DESCRIPTOR,
}
# The `cell` oneof field of BenchmarkCell for each CellKind.
CELL_KINDS: dict[int, str] = {
    value.number: value.name.removeprefix("CELL_KIND_").lower()
    for value in query_pb2.CellKind.DESCRIPTOR.values
    if value.number != 0
}


def _prefix(descriptor: EnumDescriptor) -> str:
    return descriptor.values[0].name.removesuffix("UNSPECIFIED")


def from_proto(kind: type[E], number: int, field: str, *, required: bool = False) -> E | None:
    """The domain member for a request's enum number; None for UNSPECIFIED unless required."""
    descriptor = _DESCRIPTORS[kind]
    value = descriptor.values_by_number.get(number)
    if value is None:
        raise bad_argument((field, f"{number} is not a {descriptor.name} value"))
    if number == 0:
        if required:
            raise bad_argument((field, f"required: one of the {descriptor.name} values"))
        return None
    return kind[value.name.removeprefix(_prefix(descriptor))]


def to_proto(member: Enum) -> int:
    descriptor = _DESCRIPTORS[type(member)]
    return descriptor.values_by_name[_prefix(descriptor) + member.name].number


def cell_kinds(numbers, field: str = "kinds") -> frozenset[str]:
    kinds = set()
    for index, number in enumerate(numbers):
        if number not in CELL_KINDS:
            raise bad_argument((f"{field}[{index}]", f"{number} is not a CellKind value"))
        kinds.add(CELL_KINDS[number])
    return frozenset(kinds)
