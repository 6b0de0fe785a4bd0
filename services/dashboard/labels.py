"""Names of the protobuf enums as the pages use them ("belonging", "follow_up") and back."""

from __future__ import annotations

from typing import cast

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from jedi.v1 import benchmarks_pb2, common_pb2, registry_pb2
from shared.domain.model import GROUP_VALUES, Department, Role

# protoc's stubs type an enum's looked-up values as int; the fields take the enum type.
COMPOSITES = tuple(cast(common_pb2.Composite, v) for v in common_pb2.Composite.values() if v)
WAVES = tuple(cast(common_pb2.Wave, v) for v in common_pb2.Wave.values() if v)
# Every breakdown cell a scorecard can have: a missing one was suppressed (fewer than k).
BREAKDOWN_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("role", tuple(r.value for r in Role)),
    ("department", tuple(d.value for d in Department)),
    *((dimension.value, tuple(sorted(values))) for dimension, values in GROUP_VALUES.items()),
)


def _name(enum: EnumTypeWrapper, value: int, prefix: str) -> str:
    return enum.Name(value).removeprefix(prefix).lower()


def composite_name(value: int) -> str:
    return _name(common_pb2.Composite, value, "COMPOSITE_")


def wave_name(value: int) -> str:
    return _name(common_pb2.Wave, value, "WAVE_")


def wave_value(
    name: str | None, default: common_pb2.Wave = common_pb2.WAVE_BASELINE
) -> common_pb2.Wave:
    if not name:
        return default
    try:
        return cast(common_pb2.Wave, common_pb2.Wave.Value("WAVE_" + name.upper()))
    except ValueError:
        return default


def urbanicity_name(value: int) -> str:
    return _name(registry_pb2.Urbanicity, value, "URBANICITY_")


def teaching_type_name(value: int) -> str:
    return _name(registry_pb2.TeachingType, value, "TEACHING_TYPE_")


def direction_name(value: int) -> str:
    return _name(benchmarks_pb2.ChangeDirection, value, "CHANGE_DIRECTION_")


def is_percent_positive(measure: int) -> bool:
    return measure in (benchmarks_pb2.MEASURE_PERCENT_POSITIVE, benchmarks_pb2.MEASURE_UNSPECIFIED)
