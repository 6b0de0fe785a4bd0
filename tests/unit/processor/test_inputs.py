"""Kafka records to site inputs: what can be read is an event, what cannot is a reason to dead-letter."""

from __future__ import annotations

from dataclasses import replace

from services.processor.inputs import InputRecord, SiteTopics, site_input
from shared.convert import site_to_proto, survey_response_to_proto
from shared.domain.publication.site_step import SiteChange, SiteEvent
from tests.unit.domain.factories import response, site

TOPICS = SiteTopics("responses", "interventions", "site-changes")


def record(value, *, key=b"s1", topic="responses", headers=()):
    return InputRecord(topic, 0, 5, key, value, headers)


def test_a_response_is_read_with_its_event_id():
    event = response({"B1": 4})
    item = site_input(record(survey_response_to_proto(event).SerializeToString()), TOPICS)
    assert isinstance(item, SiteEvent) and item.error is None
    assert item.event_id == event.event_id and item.payload.answers == {"B1": 4}


def test_what_cannot_be_read_carries_the_reason():
    good = survey_response_to_proto(response({"B1": 4})).SerializeToString()
    cases = {
        "garbage": record(b"\xff\x00not a proto"),
        "no value": record(None),
        "another site's key": record(good, key=b"s2"),
        "a conflicting header": record(good, headers=[("event-id", b"other")]),
        "an unknown topic": record(good, topic="elsewhere"),
    }
    for name, bad in cases.items():
        item = site_input(bad, TOPICS)
        assert isinstance(item, SiteEvent) and item.error, name


def test_site_changes_need_a_version_and_may_remove_a_site():
    value = site_to_proto(site("s1", resident=3)).SerializeToString()
    change = site_input(
        record(value, topic="site-changes", headers=[("site-version", b"12")]), TOPICS
    )
    assert isinstance(change, SiteChange) and (change.version, change.site) == (
        12,
        site("s1", resident=3),
    )
    removal = site_input(
        record(None, topic="site-changes", headers=[("site-version", b"13")]), TOPICS
    )
    assert isinstance(removal, SiteChange) and removal.site is None
    unversioned = site_input(replace(record(value, topic="site-changes")), TOPICS)
    assert isinstance(unversioned, SiteEvent) and "site-version" in unversioned.error
