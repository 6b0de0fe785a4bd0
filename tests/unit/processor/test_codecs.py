"""What the processor stores and sends between its stages: exact round trips, stable bytes."""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.processor.site_record import decode_record, encode_record, record_document
from shared.domain.aggregates import (
    SiteFold,
    apply_intervention,
    apply_survey_response,
    empty_site_state,
)
from shared.domain.cross_site import SiteScore
from shared.domain.model import (
    Composite,
    InterventionEvent,
    Role,
    SurveyResponse,
    TrainingSession,
    TrainingTopic,
    Wave,
)
from shared.domain.publication.cross_site_step import WaveRecord, decode_wave, encode_wave
from shared.domain.publication.site_record import SiteRecord, new_record
from shared.domain.publication.site_summary import SiteSummary, decode_summary, encode_summary
from shared.domain.published import SURVEY, PublishedCell, PublishedRelease
from shared.domain.reader_counts import Counts
from tests.unit.domain.factories import (
    INSTRUMENT,
    intervention,
    interventions,
    response,
    responses,
    site,
)

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


def _published(number: int) -> PublishedRelease:
    counts = Counts(12, None, None, 40.5 + number / 3, 150.25 / 7, 150.25 / 7)
    cells = {
        f"site/s1/composite/{number}": PublishedCell("family", "all", SURVEY, counts, "belonging"),
        f"site/s1/response/{number}": PublishedCell("responses", "role", SURVEY, Counts(7, 3)),
    }
    return PublishedRelease("site/s1", number, cells)


def _json(record: SiteRecord) -> bytes:
    return json.dumps(record_document(record), separators=(",", ":"), sort_keys=True).encode()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=st.lists(
        st.lists(st.one_of(responses(), interventions()), max_size=8), min_size=1, max_size=5
    )
)
def test_a_site_record_encodes_to_the_json_of_its_whole_document_batch_after_batch(batches):
    """The table value keeps the text of unchanged parts from the site's last encoding: still
    exactly the sorted JSON of the whole record, whatever the batches changed."""
    record = new_record("s1")
    for number, batch in enumerate(batches):
        fold = SiteFold(record.state)
        for event in batch:
            if isinstance(event, SurveyResponse):
                fold.add_response(event, INSTRUMENT)
            else:
                fold.add_intervention(event)
        state = fold.freeze()
        record = replace(
            record,
            state=state,
            applied=record.applied | {e.event_id for e in batch},
            site=site("s1", resident=12 + number) if number % 2 else record.site,
            site_version=number,
            interventions=record.interventions
            + sum(isinstance(e, InterventionEvent) for e in batch),
        )
        encoded = encode_record(record)
        assert zlib.decompress(encoded) == _json(record)
        assert decode_record(encoded) == record
        if number % 2 == 0:  # a release of what the batch folded
            record = replace(
                record,
                released=state,
                released_interventions=record.interventions,
                release_number=record.release_number + 1,
                release_cut_at=AS_OF,
                release_digest=f"d{number}",
                considered_slot=AS_OF,
                history=(*record.history, _published(number)),
            )
            intent = replace(record, release_digest="")
            assert zlib.decompress(encode_record(intent)) == _json(intent)
            assert zlib.decompress(encode_record(record)) == _json(record)
            assert decode_record(encode_record(record)) == record


def test_a_schema_2_record_is_still_read():
    """Written before calendar releases: no history and no considered slot."""
    state = apply_survey_response(empty_site_state("s1"), response({"B1": 4}), INSTRUMENT)
    record = SiteRecord("s1", state, frozenset({"r"}), None, 3, release_number=1, released=state)
    document = record_document(record)
    document["schema"] = 2
    del document["history"], document["considered_slot"]
    old = zlib.compress(json.dumps(document).encode())
    assert decode_record(old) == record
