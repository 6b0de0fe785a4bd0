"""The demo's wait: what the releases cover of the demo's own events, other data beside it."""

from __future__ import annotations

from jedi.v1 import benchmarks_pb2
from services.demo_check import WatchedState, coverage

SENT = {("site-a", "baseline"): 20, ("site-a", "interventions"): 3, ("site-b", "baseline"): 12}


def state(**covered: dict[str, int]) -> WatchedState:
    watched = WatchedState()
    for site_id, counts in covered.items():
        site_id = site_id.replace("_", "-")
        status = benchmarks_pb2.ReleaseStatus(scope=f"site/{site_id}", site_id=site_id, number=1)
        status.covered.update(counts)
        watched.releases[status.scope] = status
    return watched


def test_the_demo_waits_until_its_own_events_are_covered_but_fewer_than_k():
    partly = coverage(state(site_a={"baseline": 20}), SENT)
    assert (partly.sent, partly.covered, partly.complete) == (20 + 3 + 12, 20, False)
    # site-b's 12 covered, site-a's 3 interventions waiting for k: released all that may be.
    almost = coverage(state(site_a={"baseline": 20}, site_b={"baseline": 12}), SENT)
    assert almost.complete
    whole = coverage(
        state(site_a={"baseline": 20, "interventions": 3}, site_b={"baseline": 12}), SENT
    )
    assert whole.complete and whole.whole_platform
    assert whole.exact_sites == {"site-a", "site-b"}


def test_other_data_beside_the_demo_leaves_those_sites_out_of_the_comparison():
    # site-a holds a steward's upload beyond the demo's events; site-0001 is make bench's.
    more = coverage(
        state(
            site_a={"baseline": 58, "interventions": 3},
            site_b={"baseline": 12},
            site_0001={"baseline": 160},
        ),
        SENT,
    )
    assert more.complete and not more.whole_platform  # the demo no longer waits forever
    assert more.exact_sites == {"site-b"} and more.other_sites == {"site-a", "site-0001"}
