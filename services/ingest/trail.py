"""What ingest records on the audit trail for a submission: per site the call names, its counts
of accepted, rejected and duplicate events, the waves of its survey responses, and how many
survey responses were accepted (what the isolation flags look at)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from services.ingest.submission import Candidate, Outcome, Verdict
from shared.auth import Principal
from shared.domain.model import SurveyResponse
from shared.domain.trail import Submission


def submission_audits(
    principal: Principal,
    candidates: Sequence[Candidate],
    verdicts: Sequence[Verdict] | None,
    refusal: str = "",
) -> list[Submission]:
    """One record per site named (a site's key: its own site); `verdicts` None when refused."""
    responses = [c.decoded if isinstance(c.decoded, SurveyResponse) else None for c in candidates]
    by_site: dict[str, list[int]] = defaultdict(list)
    for index, candidate in enumerate(candidates):
        by_site[candidate.site_id or principal.site_id or ""].append(index)
    audits = []
    for site_id, indexes in sorted(by_site.items()):
        waves = sorted({r.wave.value for i in indexes if (r := responses[i]) is not None})
        outcomes = [verdicts[i].outcome for i in indexes] if verdicts is not None else []
        accepted = [i for i, o in zip(indexes, outcomes, strict=False) if o is Outcome.ACCEPTED]
        audits.append(
            Submission(
                site_id=site_id,
                waves=tuple(waves),
                accepted=outcomes.count(Outcome.ACCEPTED),
                rejected=outcomes.count(Outcome.REJECTED),
                duplicates=outcomes.count(Outcome.DUPLICATE),
                accepted_responses=sum(1 for i in accepted if responses[i] is not None),
                refusal=refusal,
            )
        )
    return audits
