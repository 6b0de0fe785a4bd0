"""`jedi push interventions --check` reads every line and sends nothing (no ingest needed)."""

from __future__ import annotations

import json

from google.protobuf import json_format

from services.cli import main
from shared.convert import intervention_to_proto
from tests.unit.test_validation import VALID_DETAILS, intervention


def test_check_of_intervention_events_reports_unreadable_lines(tmp_path, capsys):
    good = json_format.MessageToJson(
        intervention_to_proto(intervention(VALID_DETAILS[0])), indent=None
    )
    path = tmp_path / "events.jsonl"
    path.write_text(good + "\n" + json.dumps({"event_id": "e2", "detail": "nope"}) + "\n")
    status = main(
        [
            "push",
            "interventions",
            str(path),
            "--check",
            "--api-key",
            "unused",
            "--address",
            "127.0.0.1:1",
            "--state-dir",
            str(tmp_path / "state"),
        ]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert out.splitlines()[0].startswith("line 2: ")
    assert out.splitlines()[-1] == f"{path}: 2 events, 1 unreadable; --check: nothing was sent"
    assert not (tmp_path / "state").exists()
