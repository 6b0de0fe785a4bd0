"""The field-driven translation's own contract: shapes that do not fit fail at import, not later."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

import pytest

from jedi.v1 import benchmarks_pb2, common_pb2, events_pb2, registry_pb2
from shared import convert, proto_enums
from shared.domain import model
from shared.domain.cells import Experience
from shared.message_shapes import MessageShape
from tests.unit.test_validation import VALID_DETAILS, intervention


@dataclass(frozen=True)
class _ItemWithoutText:
    code: str
    composite: model.Composite
    reverse_worded: bool


@dataclass(frozen=True)
class _ItemWithExtra:
    code: str
    composite: model.Composite
    reverse_worded: bool
    text: str
    colour: str


def test_a_dataclass_and_message_that_differ_fail_at_construction() -> None:
    with pytest.raises(ImportError, match="text"):
        MessageShape(_ItemWithoutText, registry_pb2.Item.DESCRIPTOR)
    with pytest.raises(ImportError, match="colour"):
        MessageShape(_ItemWithExtra, registry_pb2.Item.DESCRIPTOR)


def test_an_unknown_detail_type_is_a_programming_error() -> None:
    not_a_detail: object = model.Item("X1", model.Composite.BELONGING)
    event = replace(intervention(VALID_DETAILS[0]), detail=not_a_detail)  # type: ignore[arg-type]  # the point of the test
    with pytest.raises(TypeError, match="Item"):
        convert.intervention_to_proto(event)


def test_a_detail_with_only_defaults_still_says_its_kind() -> None:
    event = intervention(model.BiasIncidentAcknowledged(incident_id=""))
    message = convert.intervention_to_proto(event)
    assert message.WhichOneof("detail") == "bias_incident_acknowledged"
    assert convert.intervention_from_proto(message) == event


def test_enum_values_pair_by_value_not_member_name() -> None:
    pair = proto_enums.for_domain(Experience)
    number = benchmarks_pb2.EXPERIENCE_EXPERIENCED_DISCRIMINATION
    assert pair.number(Experience.EXPERIENCED) == number
    assert pair.member(number) is Experience.EXPERIENCED
    assert pair.member(0) is None and pair.member(99) is None
    assert pair.knows(0) and not pair.knows(99)
    assert proto_enums.for_descriptor(common_pb2.Wave.DESCRIPTOR).domain_enum is model.Wave
    assert proto_enums.value_number(model.Wave, "follow_up") == common_pb2.WAVE_FOLLOW_UP
    assert proto_enums.value_number(model.Wave, None) == 0
    assert proto_enums.to_number(model.PolicyStage.ADOPTED) == events_pb2.POLICY_STAGE_ADOPTED


class _Stage(StrEnum):
    PROPOSED = "proposed"
    ADOPTED = "adopted"


class _StageWithExtra(StrEnum):
    PROPOSED = "proposed"
    ADOPTED = "adopted"
    IMPLEMENTED = "implemented"
    ABANDONED = "abandoned"


def test_an_enum_and_proto_that_differ_fail_at_construction() -> None:
    with pytest.raises(ImportError, match="POLICY_STAGE_IMPLEMENTED"):
        proto_enums.ProtoEnum(_Stage, events_pb2.PolicyStage.DESCRIPTOR)
    with pytest.raises(ImportError, match="POLICY_STAGE_ABANDONED"):
        proto_enums.ProtoEnum(_StageWithExtra, events_pb2.PolicyStage.DESCRIPTOR)
