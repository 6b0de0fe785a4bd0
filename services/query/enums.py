"""Request enums (open on the wire: any number can arrive) ↔ the domain's string enums.

The pairing itself is shared/proto_enums.py; here is what a bad request number means.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Literal, TypeVar, cast, overload

from jedi.v1 import common_pb2, query_pb2
from services.query.errors import bad_argument
from shared import proto_enums
from shared.domain.model import Composite, Wave

E = TypeVar("E", bound=StrEnum)

# The `cell` oneof field of BenchmarkCell for each CellKind.
CELL_KINDS: dict[int, str] = {
    value.number: value.name.removeprefix("CELL_KIND_").lower()
    for value in query_pb2.CellKind.DESCRIPTOR.values
    if value.number != 0
}


@overload
def from_proto(kind: type[E], number: int, field: str, *, required: Literal[True]) -> E: ...


@overload
def from_proto(
    kind: type[E], number: int, field: str, *, required: Literal[False] = False
) -> E | None: ...


def from_proto(kind: type[E], number: int, field: str, *, required: bool = False) -> E | None:
    """The domain member for a request's enum number; None for UNSPECIFIED unless required."""
    pair = proto_enums.for_domain(kind)
    if not pair.knows(number):
        raise bad_argument((field, f"{number} is not a {pair.name} value"))
    if number == 0:
        if required:
            raise bad_argument((field, f"required: one of the {pair.name} values"))
        return None
    return pair.member(number)


def to_proto(member: StrEnum) -> int:
    """The proto number of any paired domain member."""
    return proto_enums.to_number(member)


# The generated stubs type an enum field by its enum class; the numbers below are that enum's
# own (shared/proto_enums.py checks every pairing at import), so the casts only name the type.
def wave_to_proto(wave: Wave) -> common_pb2.Wave:
    return cast(common_pb2.Wave, proto_enums.to_number(wave))


def composite_to_proto(composite: Composite) -> common_pb2.Composite:
    return cast(common_pb2.Composite, proto_enums.to_number(composite))


def cell_kinds(numbers: Iterable[int], field: str = "kinds") -> frozenset[str]:
    kinds = set()
    for index, number in enumerate(numbers):
        if number not in CELL_KINDS:
            raise bad_argument((f"{field}[{index}]", f"{number} is not a CellKind value"))
        kinds.add(CELL_KINDS[number])
    return frozenset(kinds)
