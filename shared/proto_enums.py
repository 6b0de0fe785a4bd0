"""The one pairing of the domain's string enums with the jedi.v1 protobuf enums.

A proto value is named after the domain value, upper-cased, behind the enum's prefix:
`Wave.FOLLOW_UP = "follow_up"` ↔ `WAVE_FOLLOW_UP`, `Experience.EXPERIENCED =
"experienced_discrimination"` ↔ `EXPERIENCE_EXPERIENCED_DISCRIMINATION`. Number 0 is
`<PREFIX>UNSPECIFIED` and stands for no member. Every pairing is checked at import: a
.proto and a domain enum that disagree are a programming error.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Generic, TypeVar

from google.protobuf.descriptor import EnumDescriptor

from jedi.v1 import benchmarks_pb2, common_pb2, events_pb2, registry_pb2
from shared.domain import model
from shared.domain.benchmark_set import Measure
from shared.domain.cells import ChangeDirection, Experience

__all__ = ["ProtoEnum", "for_descriptor", "for_domain", "to_number", "value_name", "value_number"]

E = TypeVar("E", bound=StrEnum)


class ProtoEnum(Generic[E]):
    """A domain string enum and its protobuf enum, paired value by value."""

    def __init__(self, domain_enum: type[E], descriptor: EnumDescriptor) -> None:
        self.domain_enum = domain_enum
        self.descriptor = descriptor
        self.unspecified_name: str = descriptor.values_by_number[0].name
        self.prefix = self.unspecified_name.removesuffix("UNSPECIFIED")
        self._numbers: dict[E, int] = {}
        self._members: dict[int, E] = {}
        names = {value.name for value in descriptor.values if value.number != 0}
        for member in domain_enum:
            name = self.prefix + member.value.upper()
            if name not in descriptor.values_by_name:
                raise ImportError(f"{descriptor.full_name} has no value {name} for {member!r}")
            number: int = descriptor.values_by_name[name].number
            self._numbers[member] = number
            self._members[number] = member
            names.discard(name)
        if names:
            raise ImportError(
                f"{descriptor.full_name} values without a domain member: {sorted(names)}"
            )

    @property
    def name(self) -> str:
        """The proto enum's name, e.g. "GroupDimension"."""
        name: str = self.descriptor.name
        return name

    def number(self, member: E) -> int:
        return self._numbers[member]

    def member(self, number: int) -> E | None:
        """The domain member for a number; None for UNSPECIFIED or a number this code does not know."""
        return self._members.get(number)

    def knows(self, number: int) -> bool:
        """Whether the proto enum has this number (UNSPECIFIED included)."""
        return number in self.descriptor.values_by_number

    def allowed(self) -> str:
        """The domain values, for an error message: "baseline, midpoint, follow_up"."""
        return ", ".join(member.value for member in self.domain_enum)


_PAIRS: tuple[ProtoEnum[Any], ...] = (
    ProtoEnum(model.Role, common_pb2.Role.DESCRIPTOR),
    ProtoEnum(model.Department, common_pb2.Department.DESCRIPTOR),
    ProtoEnum(model.Wave, common_pb2.Wave.DESCRIPTOR),
    ProtoEnum(model.Composite, common_pb2.Composite.DESCRIPTOR),
    ProtoEnum(model.GroupDimension, common_pb2.GroupDimension.DESCRIPTOR),
    ProtoEnum(model.Lever, common_pb2.Lever.DESCRIPTOR),
    ProtoEnum(model.Principle, common_pb2.Principle.DESCRIPTOR),
    ProtoEnum(model.Urbanicity, registry_pb2.Urbanicity.DESCRIPTOR),
    ProtoEnum(model.TeachingType, registry_pb2.TeachingType.DESCRIPTOR),
    ProtoEnum(model.TrainingTopic, events_pb2.TrainingTopic.DESCRIPTOR),
    ProtoEnum(model.PolicyStage, events_pb2.PolicyStage.DESCRIPTOR),
    ProtoEnum(model.IncidentCategory, events_pb2.IncidentCategory.DESCRIPTOR),
    ProtoEnum(Experience, benchmarks_pb2.Experience.DESCRIPTOR),
    ProtoEnum(ChangeDirection, benchmarks_pb2.ChangeDirection.DESCRIPTOR),
    ProtoEnum(Measure, benchmarks_pb2.Measure.DESCRIPTOR),
)
_BY_DOMAIN: dict[type[StrEnum], ProtoEnum[Any]] = {pair.domain_enum: pair for pair in _PAIRS}
_BY_PROTO: dict[str, ProtoEnum[Any]] = {pair.descriptor.full_name: pair for pair in _PAIRS}


def for_domain(domain_enum: type[E]) -> ProtoEnum[E]:
    pair: ProtoEnum[E] = _BY_DOMAIN[domain_enum]
    return pair


def for_descriptor(descriptor: EnumDescriptor) -> ProtoEnum[Any]:
    return _BY_PROTO[descriptor.full_name]


def to_number(member: StrEnum) -> int:
    """The proto number of a domain member."""
    return for_domain(type(member)).number(member)


def value_number(domain_enum: type[StrEnum], value: str | None) -> int:
    """The proto number of a domain value given as text ("follow_up"); 0 for none."""
    return to_number(domain_enum(value)) if value else 0


def value_name(domain_enum: type[StrEnum], value: str | None) -> str:
    """The proto name of a domain value given as text ("follow_up" → "WAVE_FOLLOW_UP");
    the enum's UNSPECIFIED name for none. Message constructors take names as well as numbers."""
    pair = for_domain(domain_enum)
    if not value:
        return pair.unspecified_name
    return pair.prefix + domain_enum(value).value.upper()
