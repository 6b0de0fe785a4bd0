"""Registry records on Kafka: entries, tombstones and what is no entry, decoded in one place."""

from __future__ import annotations

from shared.convert import instrument_to_proto, site_to_proto
from shared.domain.sample_instrument import JEDI_CULTURE
from shared.registry_records import (
    Removed,
    Unreadable,
    decode_instrument_record,
    decode_site_record,
    instrument_key,
    site_key,
)
from tests.unit.test_validation import VALID_SITE


def test_entries_round_trip_through_their_records() -> None:
    key = instrument_key(JEDI_CULTURE.instrument_id, JEDI_CULTURE.version)
    value = instrument_to_proto(JEDI_CULTURE).SerializeToString()
    assert decode_instrument_record(key, value) == JEDI_CULTURE
    site_value = site_to_proto(VALID_SITE).SerializeToString()
    assert decode_site_record(site_key(VALID_SITE.site_id), site_value) == VALID_SITE


def test_tombstones_name_what_they_remove() -> None:
    assert decode_instrument_record(b"jedi-culture:3", None) == Removed(("jedi-culture", 3))
    assert decode_instrument_record(b"a:b:2", None) == Removed(("a:b", 2))
    assert decode_site_record(b"site-north", None) == Removed("site-north")


def test_what_is_no_entry_is_unreadable_not_an_exception() -> None:
    for key in (None, b"", b"jedi-culture", b"jedi-culture:x"):
        assert isinstance(decode_instrument_record(key, None), Unreadable), key
    assert isinstance(decode_site_record(None, None), Unreadable)
    assert isinstance(decode_instrument_record(b"k:1", b"\xff\xff"), Unreadable)
    assert isinstance(decode_site_record(b"k", b"\xff\xff"), Unreadable)
    # A message that parses but is no entry: an UNSPECIFIED composite, an unset urbanicity.
    bad_instrument = instrument_to_proto(JEDI_CULTURE)
    bad_instrument.items[0].composite = 0
    result = decode_instrument_record(b"k:1", bad_instrument.SerializeToString())
    assert isinstance(result, Unreadable) and "instrument.items[0].composite" in result.reason
    bad_site = site_to_proto(VALID_SITE)
    bad_site.urbanicity = 0
    site_result = decode_site_record(b"k", bad_site.SerializeToString())
    assert isinstance(site_result, Unreadable) and "site.urbanicity" in site_result.reason
