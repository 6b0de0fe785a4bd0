"""What the processor stores and sends between its stages: exact round trips, stable bytes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from shared.domain.aggregates import apply_intervention, apply_survey_response, empty_site_state
from shared.domain.cross_site import SiteScore
from shared.domain.model import Composite, Role, TrainingSession, TrainingTopic, Wave

from services.processor.cross_stage import GroupRecord, decode_group, encode_group
from services.processor.site_record import SiteRecord, decode_record, encode_record, new_record
from services.processor.summary import ShownScore, SiteSummary, decode_summary, encode_summary

from tests.unit.domain.factories import INSTRUMENT, intervention, response, site

AS_OF = datetime(2026, 11, 25, tzinfo=timezone.utc)


def test_a_site_record_round_trips_exactly_and_encodes_the_same_however_built():
    training = TrainingSession("t", TrainingTopic.HEALTH_EQUITY, Role.RESIDENT, 9, 7, 5)
    events = [response({"B1": 4, "B3": 1}), response({"S1": 2}), intervention(training)]
    state = empty_site_state("s1")
    for event in events:
        if hasattr(event, "answers"):
            state = apply_survey_response(state, event, INSTRUMENT)
        else:
            state = apply_intervention(state, event)
    record = SiteRecord("s1", state, frozenset(e.event_id for e in events), site("s1", resident=12), 7,
                        frozenset({"composite/s1/baseline/belonging/all/all"}), 123)
    assert decode_record(encode_record(record)) == record
    rebuilt = replace(record, applied=frozenset(reversed(sorted(record.applied))))
    assert encode_record(rebuilt) == encode_record(record)
    assert decode_record(encode_record(new_record("s2"))) == new_record("s2")


def test_a_summary_and_a_group_round_trip_with_exact_floats():
    score = SiteScore("s1", Wave.BASELINE, Composite.INCLUSION, 100 / 3, 3.7142857142857144)
    summary = SiteSummary("s1", AS_OF, (ShownScore(score, True),))
    assert decode_summary(encode_summary(summary)) == summary
    group = GroupRecord(Wave.BASELINE, Composite.INCLUSION, {"s1": ShownScore(score, False)}, AS_OF,
                        frozenset({"distribution/baseline/inclusion/mean"}), 9)
    assert decode_group(encode_group(group)) == group
    assert decode_group(encode_group(GroupRecord(Wave.FOLLOW_UP, Composite.BELONGING))) == GroupRecord(
        Wave.FOLLOW_UP, Composite.BELONGING)
