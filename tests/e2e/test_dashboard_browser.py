"""The dashboard in a real headless Chromium against the whole platform on real sockets.

A coordinator's overview lists every demo site and agrees with CompareSites; a site's pages
and network traffic never name a peer; ingested events change the open page without a
reload (the time from ingest's acknowledgement to the page's change is measured); a
suppressed cell says "fewer than k responses"; the interventions page draws one chart per
unit, empty bars on a 0-to-1 axis for a site without intervention events, and the training
sessions per quarter as a time series; axe-core finds no serious or critical violation; 50 open sessions are measured for the dashboard's resident memory.
Screenshots, the axe report and the measurements go to the artefacts folder.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import statistics
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from jedi.v1 import common_pb2, query_pb2, query_pb2_grpc
from shared.clients import call_metadata, open_channel
from shared.domain.model import Wave
from tests.support.browser import AXE, artefacts_dir, chromium_path
from tests.support.ingest import demo_dataset
from tests.support.platform import Platform, running_platform
from tests.support.waiting import eventually

K = 10
LIVE_SITE = "site-north"
# A site with survey responses and no intervention event: every count on its page is 0.
ZERO_SITE = "site-east"
# The interventions page's charts: one per unit (services/dashboard/reach_charts.py).
REACH_CHARTS = {
    "reach-training": ("percent", "Percent"),
    "reach-sessions": ("sessions", "Sessions"),
    "reach-incident-times": ("hours", "Hours"),
    "reach-backlog": ("incidents", "Open incidents"),
    "reach-coverage": ("events", "Tagged events"),
}
ROUNDS = 5
CAPTURE_SSE = """
(() => {
  const Native = window.EventSource;
  window.__sse = [];
  class Recording extends Native {
    constructor(url, options) {
      super(url, options);
      for (const type of ["view", "problem", "offline", "signedout", "message"])
        this.addEventListener(type, (event) => window.__sse.push(event.data));
    }
  }
  window.EventSource = Recording;
})();
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_path()


@pytest.fixture
async def platform(tmp_path, chromium):
    dataset = demo_dataset()
    dataset = dataclasses.replace(
        dataset, interventions=tuple(e for e in dataset.interventions if e.site_id != ZERO_SITE)
    )
    async with running_platform(tmp_path, dataset) as platform:
        await platform.push_dataset()
        await wait_for_benchmarks(platform)
        yield platform


async def compare(platform: Platform, composite: int, wave: int = common_pb2.WAVE_BASELINE):
    async with open_channel(platform.query_address) as channel:
        return await query_pb2_grpc.BenchmarkServiceStub(channel).CompareSites(
            query_pb2.CompareSitesRequest(composite=composite, wave=wave, page_size=500),
            metadata=call_metadata(platform.keys.coordinator),
            timeout=10,
        )


async def wait_for_benchmarks(platform: Platform, timeout: float = 240) -> None:
    """Until every site the dataset makes eligible appears in CompareSites on every composite."""
    counts: dict[str, int] = {}
    for response in platform.dataset.responses:
        if response.wave is Wave.BASELINE:
            counts[response.site_id] = counts.get(response.site_id, 0) + 1
    expected = {site for site, n in counts.items() if n >= K}

    async def compared() -> list[tuple[set[str], bool]]:
        """Per composite: the sites compared, and whether the distribution is there."""
        replies = [
            await compare(platform, c)
            for c in (common_pb2.COMPOSITE_BELONGING, common_pb2.COMPOSITE_LEADERSHIP_COMMITMENT)
        ]
        return [
            ({row.site.site_id for row in reply.sites}, reply.HasField("distribution"))
            for reply in replies
        ]

    await eventually(
        compared,
        timeout,
        what=f"every eligible site {sorted(expected)} and the distribution on every composite",
        until=lambda seen: all(expected <= sites and shown for sites, shown in seen),
        interval=0.5,
    )


async def sign_in(page, platform: Platform, key: str) -> None:
    await page.goto(platform.dashboard_url)
    await page.wait_for_url("**/signin")
    await page.fill("#api_key", key)
    await page.click("button[type=submit]")
    await page.wait_for_url(platform.dashboard_url)


async def open_view(page, route: str) -> None:
    await page.evaluate("delete document.body.dataset.viewVersion")
    await page.goto(page.url.split("#")[0] + route)
    await page.wait_for_selector("body[data-view-version]")


async def list_releases(platform: Platform, key: str) -> list:
    async with open_channel(platform.query_address) as channel:
        reply = await query_pb2_grpc.BenchmarkServiceStub(channel).ListReleases(
            query_pb2.ListReleasesRequest(), metadata=call_metadata(key), timeout=10
        )
    return list(reply.releases)


async def status_row(page, selector: str) -> dict[str, int]:
    """One row of the status table: release number, responses covered and held back."""
    texts = await page.locator(selector).evaluate(
        "row => Object.fromEntries([...row.querySelectorAll('[data-field]')].map(c => [c.dataset.field, c.textContent]))"
    )
    return {
        field: int(texts[field]) if texts[field].isdigit() else 0
        for field in ("release", "covered", "held_back")
    }


async def check_status_table(
    page, platform: Platform, key: str, names: dict[str, str], timeout: float = 20
) -> None:
    """The status page shows every release ListReleases gives this user, once the page has caught
    up with the answer (it may also be newer): one row per site and wave (and intervention
    events), one per cross-site wave."""

    async def shows() -> bool:
        await _status_table_shows(page, await list_releases(platform, key), names)
        return True

    await eventually(
        shows,
        timeout,
        what="the status table to show every release ListReleases gives",
        ignoring=(AssertionError,),  # the page has not caught up yet; the last one is shown
        interval=0.5,
    )


def result_text(status, component: str) -> str:
    """The "Wave's result" a status's row should read: intervention events have none (not
    applicable); a wave's row is its result when the release names the wave in closed_waves."""
    if component == "interventions":
        return "—"
    if component in status.closed_waves:
        return "yes: the wave's result"
    if not status.number or (status.site_id and not status.covered.get(component, 0)):
        return "not yet"
    return "interim: totals only" if status.site_id else "interim"


async def _status_table_shows(page, statuses: list, names: dict[str, str]) -> None:
    table = page.locator("#status-table")
    assert statuses, "no releases"
    for status in statuses:
        rows = table.locator(f"tr[data-scope='{status.scope}']")
        if not status.site_id:
            wave = common_pb2.Wave.Name(status.wave).removeprefix("WAVE_").lower()
            assert await rows.count() == 1 and await rows.get_attribute("data-wave") == wave, (
                status.scope
            )
            assert int(await rows.locator("[data-field='release']").inner_text()) >= status.number
            if int(await rows.locator("[data-field='release']").inner_text()) == status.number:
                assert await rows.locator("[data-field='result']").inner_text() == result_text(
                    status, wave
                ), status.scope
            continue
        assert await rows.count() == len(set(status.covered) | set(status.held_back)), status.scope
        for component in set(status.covered) | set(status.held_back):
            row = table.locator(f"tr[data-scope='{status.scope}'][data-wave='{component}']")
            assert await row.locator("th").inner_text() == names[status.site_id]
            shown = await status_row(
                page, f"#status-table tr[data-scope='{status.scope}'][data-wave='{component}']"
            )
            received = status.covered.get(component, 0) + status.held_back.get(component, 0)
            assert shown["release"] >= status.number, (status.scope, component, shown)
            assert shown["covered"] + shown["held_back"] >= received, (
                status.scope,
                component,
                shown,
            )
            if shown["release"] == status.number:
                assert shown["covered"] == status.covered.get(component, 0), (
                    status.scope,
                    component,
                    shown,
                )
                result = await row.locator("[data-field='result']").inner_text()
                assert result == result_text(status, component), (status.scope, component, result)


async def chart_of(page, figure: str) -> dict:
    """What a figure's chart draws: its unit, its texts (axis label and ticks), the widths of its
    bars, its line paths and points."""
    return await page.locator(f"#{figure}-figure").evaluate(
        """section => {
          const svg = section.querySelector('svg');
          return {
            unit: section.dataset.unit, kind: section.dataset.kind,
            texts: svg ? [...svg.querySelectorAll('text')].map(t => t.textContent) : [],
            bars: svg ? [...svg.querySelectorAll('.reach-bar rect')].map(r => Number(r.getAttribute('width'))) : [],
            lines: svg ? svg.querySelectorAll('.reach-line path').length : 0,
            points: svg ? svg.querySelectorAll('.reach-point circle').length : 0,
          };
        }"""
    )


async def table_headings(page, figure: str) -> list[str]:
    """The column headings of a figure's table view (switched to it first)."""
    toggle = page.locator(f"#{figure}-figure .toolbar button[aria-pressed]")
    if await toggle.count() and await toggle.get_attribute("aria-pressed") == "false":
        await toggle.click()
    await page.wait_for_selector(f"#{figure} thead")
    return await page.locator(f"#{figure} thead th").all_inner_texts()


async def show_chart(page, figure: str) -> None:
    """Back to a figure's chart (the table view is remembered across pages, as a user's choice)."""
    toggle = page.locator(f"#{figure}-figure .toolbar button[aria-pressed]")
    if await toggle.count() and await toggle.get_attribute("aria-pressed") == "true":
        await toggle.click()
        await page.wait_for_selector(f"#{figure}-figure svg")


async def check_interventions(page, site_id: str) -> dict[str, dict]:
    """The interventions page of a site (as the coordinator): one chart per unit, each with its
    own axis, none with a degenerate one; the training sessions per quarter as a time series."""
    await open_view(page, f"#/interventions?site={site_id}")
    charts = {figure: await chart_of(page, figure) for figure in REACH_CHARTS}
    for figure, (unit, label) in REACH_CHARTS.items():
        chart = charts[figure]
        assert chart["unit"] == unit, (figure, chart)
        if not chart["texts"]:
            continue  # no value shown: the figure is its table
        assert any(t.startswith(label) for t in chart["texts"]), (figure, chart["texts"])
        others = [other for f, (_, other) in REACH_CHARTS.items() if f != figure]
        assert not any(t.startswith(o) for t in chart["texts"] for o in others), (figure, chart)
        assert not any("0.000" in t for t in chart["texts"]), (figure, chart["texts"])
    assert charts["reach-sessions"]["kind"] == "series"
    return charts


async def run_axe(page, name: str) -> list[dict]:
    await page.add_script_tag(content=AXE.read_text())
    report = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    (artefacts_dir() / f"axe-{name}.json").write_text(json.dumps(report["violations"], indent=2))
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])}
        for v in report["violations"]
    ]


async def test_dashboard_in_a_real_browser(platform, chromium):
    from playwright.async_api import async_playwright

    out = artefacts_dir()
    dataset = platform.dataset
    names = {site.site_id: site.name for site in dataset.sites}
    axe_found: dict[str, list[dict]] = {}
    latencies: list[float] = []
    shown_as: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            # ---- a wrong key gets a clear message; the coordinator's overview matches CompareSites
            context = await browser.new_context(
                viewport={"width": 1400, "height": 1000}, bypass_csp=True
            )
            page = await context.new_page()
            await page.goto(platform.dashboard_url + "signin")
            await page.fill("#api_key", "coordinator.not-a-real-key")
            await page.click("button[type=submit]")
            assert "not recognised" in await page.inner_text("#signin-error")
            await sign_in(page, platform, platform.keys.coordinator)
            cookie = next(c for c in await context.cookies() if c["name"] == "jedi_session")
            assert (
                cookie["httpOnly"]
                and cookie["sameSite"] == "Strict"
                and cookie["expires"] > time.time()
            )
            assert platform.keys.coordinator not in json.dumps(await context.cookies())

            await open_view(page, "#/overview")
            table = page.locator("#site-table")
            for site_id, name in names.items():  # every demo site, by name, suppressed ones too
                assert await table.locator(f"tr[data-site-id='{site_id}'] th").inner_text() == name
            for composite in (c for c in common_pb2.Composite.values() if c):
                key = common_pb2.Composite.Name(composite).removeprefix("COMPOSITE_").lower()
                reply = await compare(platform, composite)
                for row in reply.sites:
                    cell = table.locator(
                        f"tr[data-site-id='{row.site.site_id}'] td[data-composite='{key}']"
                    )
                    assert await cell.inner_text() == f"{row.total.composite.percent_positive:.1f}%"
                shown = set(
                    await table.locator("tr[data-site-id]").evaluate_all(
                        "rows => rows.filter(r => !r.querySelector('td[data-composite=\""
                        + key
                        + "\"]')"
                        ".classList.contains('suppressed')).map(r => r.dataset.siteId)"
                    )
                )
                assert shown == {row.site.site_id for row in reply.sites}, key
            # site-island has too few responses: its cells are suppressed, and say so.
            island = table.locator("tr[data-site-id='site-island'] td[data-composite='belonging']")
            assert await island.inner_text() == f"fewer than {K} responses"
            await page.screenshot(path=str(out / "overview.png"), full_page=True)
            axe_found["overview"] = await run_axe(page, "overview")

            # ---- interventions: a chart per unit; a site without events gets empty bars on 0..1
            busy = await check_interventions(page, LIVE_SITE)
            sessions = busy["reach-sessions"]
            assert sessions["lines"] == 1 and sessions["points"] >= 2, sessions
            quarters = [t for t in sessions["texts"] if len(t) == 7 and t[4:6] == "-Q"]
            assert len(quarters) == sessions["points"], sessions
            assert busy["reach-coverage"]["bars"] and max(busy["reach-coverage"]["bars"]) > 0
            await page.screenshot(path=str(out / "interventions.png"), full_page=True)
            axe_found["interventions-coordinator"] = await run_axe(page, "interventions")
            assert await table_headings(page, "reach-training") == ["Measure", "Value", "Of (n)"]
            assert await table_headings(page, "reach-incident-times") == [
                "Measure",
                "Value",
                "Incidents (n)",
            ]
            for counts in ("reach-coverage", "reach-backlog"):  # a count has no "of n"
                assert await table_headings(page, counts) == ["Measure", "Value"], counts
            assert await table_headings(page, "reach-sessions") == ["Quarter", "Sessions"]
            if await page.locator("#reach-programme").count():
                programme = await page.locator("#reach-programme").inner_text()
                assert "sessions per quarter" not in programme.lower()
            axe_found["interventions-tables"] = await run_axe(page, "interventions-tables")
            for figure in REACH_CHARTS:
                await show_chart(page, figure)

            zero = await check_interventions(page, ZERO_SITE)
            for figure in ("reach-coverage", "reach-backlog"):
                chart = zero[figure]
                assert chart["bars"] and set(chart["bars"]) == {0}, (figure, chart)
                assert "0" in chart["texts"] and "1" in chart["texts"], (figure, chart["texts"])
            assert zero["reach-sessions"]["points"] == 0
            await page.screenshot(path=str(out / "interventions-zero.png"), full_page=True)
            axe_found["interventions-zero"] = await run_axe(page, "interventions-zero")

            # ---- the live status agrees with ListReleases; ingested responses change it without a reload
            await open_view(page, "#/status")
            await check_status_table(page, platform, platform.keys.coordinator, names)
            await page.evaluate("window.__loaded = performance.timeOrigin")
            row = f"#status-table tr[data-site-id='{LIVE_SITE}'][data-wave='baseline']"
            originals = [
                r for r in dataset.responses if r.site_id == LIVE_SITE and r.wave is Wave.BASELINE
            ]
            for _round in range(ROUNDS):
                before = await status_row(page, row)
                version = await page.evaluate("Number(document.body.dataset.viewVersion)")
                copies = [dataclasses.replace(r, event_id=str(uuid.uuid4())) for r in originals[:3]]
                reply = await platform.push(copies, platform.keys.sites[LIVE_SITE])
                acked_ms = time.time() * 1000
                assert reply.accepted_count == len(copies), reply
                # Received = covered + held back: the page has them once that grew by 3, be it as
                # held-back responses (no safe release yet) or in a new release.
                await page.wait_for_function(
                    """([v, selector, total]) => {
                      const row = document.querySelector(selector);
                      if (!row || Number(document.body.dataset.viewVersion) <= v) return false;
                      const n = (f) => Number(row.querySelector(`[data-field='${f}']`).textContent);
                      return n('covered') + n('held_back') >= total;
                    }""",
                    arg=[version, row, before["covered"] + before["held_back"] + len(copies)],
                    timeout=60_000,
                )
                rendered_ms = float(await page.evaluate("document.body.dataset.renderedAt"))
                after = await status_row(page, row)
                latencies.append(rendered_ms - acked_ms)
                shown_as.append(
                    "new release" if after["release"] > before["release"] else "held back"
                )
                if after["release"] == before["release"]:
                    assert after["held_back"] == before["held_back"] + len(copies), (before, after)
                    assert after["covered"] == before["covered"], (before, after)
            assert await page.evaluate("window.__loaded") is not None, "the page reloaded"
            await check_status_table(page, platform, platform.keys.coordinator, names)
            await page.screenshot(path=str(out / "status.png"), full_page=True)
            axe_found["status"] = await run_axe(page, "status")
            await context.close()

            # ---- a site sees its own data and never a peer's name or id, in the page or on the wire
            context = await browser.new_context(
                viewport={"width": 1400, "height": 1000}, bypass_csp=True
            )
            await context.add_init_script(CAPTURE_SSE)
            page = await context.new_page()
            wire: list = []
            bodies: list[str] = []

            async def keep(response) -> None:  # read at once: a body is gone after a navigation
                wire.append(response)
                if not 300 <= response.status < 400 and "event-stream" not in response.headers.get(
                    "content-type", ""
                ):
                    bodies.append(await response.text())

            page.on("response", keep)
            await sign_in(page, platform, platform.keys.sites[LIVE_SITE])
            pages_text = []
            for route in (
                "#/scorecard",
                "#/interventions",
                "#/status",
                "#/scorecard?wave=follow_up",
                "#/scorecard?site=site-south",
                "#/scorecard",
            ):
                await open_view(page, route)
                pages_text.append(await page.content())
                if route == "#/scorecard":
                    await page.screenshot(
                        path=str(out / f"scorecard-{LIVE_SITE}.png"), full_page=True
                    )
                    axe_found.setdefault("scorecard", await run_axe(page, "scorecard"))
                if route == "#/interventions":
                    axe_found["interventions"] = await run_axe(page, "interventions")
                if route == "#/status":
                    await check_status_table(page, platform, platform.keys.sites[LIVE_SITE], names)
                    sites_shown = set(
                        await page.locator("#status-table tr[data-scope]").evaluate_all(
                            "rows => rows.map(r => r.dataset.siteId || '')"
                        )
                    )
                    assert sites_shown == {LIVE_SITE, ""}, sites_shown
            assert names[LIVE_SITE] in pages_text[0]
            # Asking for a peer's scorecard still shows the site's own (the query service decides).
            assert names[LIVE_SITE] in pages_text[4]
            assert len(bodies) >= 5, "the responses' bodies were recorded"
            bodies += [json.dumps(r.headers) for r in wire]
            streamed = await page.evaluate("window.__sse")
            assert streamed, "the SSE stream was recorded"
            everything = "\n".join([*pages_text, *bodies, *streamed, *(r.url for r in wire)])
            for site_id, name in names.items():
                if site_id != LIVE_SITE:
                    assert site_id not in everything, f"peer id {site_id} leaked to a site"
                    assert name not in everything, f"peer name {name} leaked to a site"
            # sign-out ends the session: the stream is refused afterwards
            page.remove_listener("response", keep)
            await page.click("#signout")
            await page.wait_for_url("**/signin")
            assert (
                await page.request.get(platform.dashboard_url + "api/stream/status")
            ).status == 401
            await context.close()
        finally:
            await browser.close()

    serious = {
        view: [v for v in found if v["impact"] in ("serious", "critical")]
        for view, found in axe_found.items()
    }
    rss_kib = await fifty_sessions(platform)
    report = {
        "ingest_ack_to_page_ms": latencies,
        "median_ms": statistics.median(latencies),
        "ingested_responses_shown_as": shown_as,
        "axe": axe_found,
        "dashboard_rss_kib_50_sessions": rss_kib,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print(f"\ndashboard browser test: {json.dumps(report)}")
    assert not any(serious.values()), serious


async def fifty_sessions(platform: Platform) -> int:
    """50 signed-in sessions, each with its live stream open and its first view received;
    the dashboard's resident set size then, in KiB."""
    keys = [platform.keys.coordinator, *platform.keys.sites.values()]

    async def one(index: int) -> tuple[aiohttp.ClientSession, aiohttp.ClientResponse]:
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        form = {"api_key": keys[index % len(keys)]}
        async with session.post(
            platform.dashboard_url + "signin", data=form, allow_redirects=False
        ) as reply:
            assert reply.status == 303, await reply.text()
        view = "overview" if index % len(keys) == 0 else "scorecard"
        stream = await session.get(platform.dashboard_url + f"api/stream/{view}")
        async for line in stream.content:
            if line.startswith(b"event: view"):
                return session, stream
        raise AssertionError("the stream ended before its first view")

    opened = await asyncio.gather(*(one(i) for i in range(50)))
    try:
        status = Path(f"/proc/{platform.services['dashboard'].pid}/status").read_text()
        return int(
            next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
        )
    finally:
        for session, stream in opened:
            stream.close()
            await session.close()
