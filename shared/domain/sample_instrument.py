"""The collaborative's default culture-survey instrument, "jedi-culture" version 1.

Twenty-four agree/disagree Likert items (1 = strongly disagree .. 5 = strongly agree),
four per composite. Six are reverse-worded: agreeing with them is the negative answer,
so percent positive counts disagreement for them, as AHRQ SOPS does.

Wave windows are half-open `[opens_at, closes_at)` in UTC:

- baseline  2025-09-01 .. 2025-12-31 (closes 2026-01-01T00:00Z)
- midpoint  2026-03-01 .. 2026-05-31 (closes 2026-06-01T00:00Z)
- follow_up 2026-09-01 .. 2026-12-31 (closes 2027-01-01T00:00Z)

Responses may not be dated in the future, so demo data that must validate today uses
the two waves already in the past (baseline and midpoint) or the open part of follow-up.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.domain.model import Composite, Instrument, Item, Wave, WaveWindow

JEDI_CULTURE_ID = "jedi-culture"
JEDI_CULTURE_VERSION = 1


def _utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


_B, _I, _P, _E, _T, _L = (
    Composite.BELONGING,
    Composite.INCLUSION,
    Composite.PSYCHOLOGICAL_SAFETY,
    Composite.EQUITABLE_OPPORTUNITY,
    Composite.TRUST_IN_REPORTING,
    Composite.LEADERSHIP_COMMITMENT,
)

JEDI_CULTURE_ITEMS: tuple[Item, ...] = (
    Item("BEL1", _B, False, "I feel that I belong at this institution."),
    Item("BEL2", _B, False, "People here value me for who I am."),
    Item("BEL3", _B, True, "I often feel like an outsider in my department."),
    Item(
        "BEL4",
        _B,
        False,
        "I would recommend this institution to a colleague with a background like mine.",
    ),
    Item("INC1", _I, False, "My ideas and perspectives are taken seriously by my team."),
    Item("INC2", _I, False, "People of all backgrounds have a say in decisions that affect them."),
    Item("INC3", _I, True, "I have to hide parts of my identity to fit in here."),
    Item("INC4", _I, False, "Team members make an effort to include everyone in discussions."),
    Item("PSY1", _P, False, "It is safe to take an interpersonal risk on my team."),
    Item(
        "PSY2",
        _P,
        False,
        "I can raise a concern about patient care without fear of negative consequences.",
    ),
    Item("PSY3", _P, True, "If I make a mistake on my team, it is often held against me."),
    Item(
        "PSY4",
        _P,
        False,
        "I feel comfortable speaking up when I see someone being treated unfairly.",
    ),
    Item(
        "EQO1",
        _E,
        False,
        "Opportunities for advancement here are open to people of all backgrounds.",
    ),
    Item("EQO2", _E, False, "Assignments, schedules and procedures are distributed fairly."),
    Item("EQO3", _E, False, "Evaluations of trainees here are free of bias."),
    Item("EQO4", _E, True, "Some groups here are held to a higher standard than others."),
    Item("TRU1", _T, False, "I know how to report an experience of racism or bias."),
    Item("TRU2", _T, False, "I trust that a report of bias here would be taken seriously."),
    Item("TRU3", _T, True, "I would fear retaliation if I reported bias."),
    Item("TRU4", _T, False, "I have seen changes made as a result of reported incidents."),
    Item("LEA1", _L, False, "Leaders here visibly support equity and inclusion."),
    Item("LEA2", _L, False, "Leaders acknowledge when the institution has fallen short on equity."),
    Item(
        "LEA3", _L, False, "Leaders here respond to concerns about discrimination in a timely way."
    ),
    Item("LEA4", _L, True, "Leaders' commitment to equity here is mostly talk."),
)

JEDI_CULTURE_WAVES: tuple[WaveWindow, ...] = (
    WaveWindow(Wave.BASELINE, _utc(2025, 9, 1), _utc(2026, 1, 1)),
    WaveWindow(Wave.MIDPOINT, _utc(2026, 3, 1), _utc(2026, 6, 1)),
    WaveWindow(Wave.FOLLOW_UP, _utc(2026, 9, 1), _utc(2027, 1, 1)),
)

JEDI_CULTURE = Instrument(
    instrument_id=JEDI_CULTURE_ID,
    version=JEDI_CULTURE_VERSION,
    items=JEDI_CULTURE_ITEMS,
    waves=JEDI_CULTURE_WAVES,
)
