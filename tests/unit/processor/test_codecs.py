"""What the processor stores and sends between its stages: exact round trips, stable bytes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from services.processor.site_record import decode_record, encode_record
from shared.domain.aggregates import apply_intervention, apply_survey_response, empty_site_state
from shared.domain.cross_site import SiteScore
from shared.domain.model import Composite, Role, TrainingSession, TrainingTopic, Wave
from shared.domain.publication.cross_site_step import WaveRecord, decode_wave, encode_wave
from shared.domain.publication.site_record import SiteRecord, new_record
from shared.domain.publication.site_summary import SiteSummary, decode_summary, encode_summary
from tests.unit.domain.factories import INSTRUMENT, intervention, response, site

AS_OF = datetime(2026, 11, 25, tzinfo=UTC)


def test_a_site_record_round_trips_exactly_and_encodes_the_same_however_built():
    training = TrainingSession("t", TrainingTopic.HEALTH_EQUITY, Role.RESIDENT, 9, 7, 5)
    events = [response({"B1": 4, "B3": 1}), response({"S1": 2}), intervention(training)]
    state = empty_site_state("s1")
    for event in events:
        if hasattr(event, "answers"):
            state = apply_survey_response(state, event, INSTRUMENT)
        else:
            state = apply_intervention(state, event)
    record = SiteRecord(
        "s1",
        state,
        frozenset(e.event_id for e in events),
        site("s1", resident=12),
        7,
        interventions=1,
        released=state,
        released_interventions=1,
        release_number=3,
        release_cut_at=AS_OF,
        release_digest="abc",
        held_back_digest="def",
    )
    assert decode_record(encode_record(record)) == record
    rebuilt = replace(record, applied=frozenset(reversed(sorted(record.applied))))
    assert encode_record(rebuilt) == encode_record(record)
    assert decode_record(encode_record(new_record("s2"))) == new_record("s2")


def test_a_summary_and_a_wave_record_round_trip_with_exact_floats():
    score = SiteScore("s1", Wave.BASELINE, Composite.INCLUSION, 100 / 3, 3.7142857142857144)
    summary = SiteSummary("s1", AS_OF, (score,), (Wave.BASELINE,))
    assert decode_summary(encode_summary(summary)) == summary
    wave = WaveRecord(Wave.BASELINE, {"s1": (score,)}, AS_OF, 9, "digest", frozenset({"s1"}))
    assert decode_wave(encode_wave(wave)) == wave
    assert decode_wave(encode_wave(WaveRecord(Wave.FOLLOW_UP))) == WaveRecord(Wave.FOLLOW_UP)


def test_summaries_and_wave_records_written_before_wave_results_still_read():
    summary = SiteSummary("s1", AS_OF)
    old = json.loads(encode_summary(summary))
    del old["results"]
    assert decode_summary(json.dumps(old).encode()) == summary
    wave = WaveRecord(Wave.BASELINE, {}, AS_OF, 2, "digest")
    old = json.loads(encode_wave(wave))
    del old["results"]
    assert decode_wave(json.dumps(old).encode()) == wave
