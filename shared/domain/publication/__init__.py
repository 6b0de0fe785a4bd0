"""Release policy, in one place: when a scope is released, what it covers, and which cells it shows.

- `calendar`: the scheduled release times (every `JEDI_RELEASE_EVERY`, and each wave's close);
- `release_gate`: at a scheduled time, which components (waves, interventions) advance: those
  with at least k new events, a count and nothing else;
- `cell_choice`: which cells the release shows: the single-release rules, then more hidden until
  the exact auditor finds nothing in the scope's whole sequence of releases.
"""
