"""Query replies as plain-text tables, for `jedi query` and the demo. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from jedi.v1 import benchmarks_pb2, common_pb2, query_pb2, registry_pb2
from shared.convert_benchmarks import cell_from_proto
from shared.domain.benchmark_set import DistributionCell, RankCell, ReachCell
from shared.domain.cells import ChangeCell, CompositeCell, DisparityCell, ResponseCell

_PERCENT_POSITIVE = benchmarks_pb2.MEASURE_PERCENT_POSITIVE
CellType = TypeVar("CellType")


def _cell(message: benchmarks_pb2.BenchmarkCell, kind: type[CellType]) -> CellType:
    """The cell a reply carries in this place, which is always of `kind`."""
    cell = cell_from_proto(message)
    if not isinstance(cell, kind):
        raise TypeError(f"cell {message.key!r} is a {type(cell).__name__}, not a {kind.__name__}")
    return cell


def render(headers: Sequence[str], rows: Iterable[Sequence[object]], *, title: str = "") -> str:
    """Columns padded to their widest value; numbers (and "—") right-aligned."""
    text_rows = [[_text(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in text_rows)]) for i, h in enumerate(headers)]
    numeric = [
        all(_is_number(r[i]) for r in text_rows) and bool(text_rows) for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        cells = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=False)
        ]
        return "  ".join(cells).rstrip()

    out = ([title] if title else []) + [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in text_rows] or ["(nothing published)"]
    return "\n".join(out)


def _text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _is_number(text: str) -> bool:
    stripped = (
        text.replace("%", "").replace("+", "").replace("—", "0").replace("[", "").replace("]", "")
    )
    try:
        float(stripped.split()[0] if stripped.split() else "x")
        return True
    except ValueError:
        return False


def _pct(value: float | None) -> str | None:
    return None if value is None else f"{value:.1f}%"


def _rank(message: Any) -> str | None:  # any reply entry with a `rank` field
    if not message.HasField("rank"):
        return None
    return f"{message.rank.rank.percentile_rank * 100:.0f}%"


def _name(site: registry_pb2.Site) -> str:
    return str(site.name or site.site_id)


def wave_name(number: int) -> str:
    return str(common_pb2.Wave.Name(number)).removeprefix("WAVE_").lower()


def composite_name(number: int) -> str:
    return str(common_pb2.Composite.Name(number)).removeprefix("COMPOSITE_").lower()


def scorecard(reply: query_pb2.GetSiteScorecardResponse) -> str:
    total = next(
        (_cell(c, ResponseCell) for c in reply.responses if c.response.dimension == "all"), None
    )
    responded = "no published responses"
    if total is not None:
        rate = (
            f", response rate {total.response_rate:.0%}" if total.response_rate is not None else ""
        )
        responded = f"{total.n} responses{rate}"
    rows = []
    for entry in reply.composites:
        cell = _cell(entry.total, CompositeCell) if entry.HasField("total") else None
        dist = next(
            (
                d.distribution
                for d in entry.distributions
                if d.distribution.measure == _PERCENT_POSITIVE
            ),
            None,
        )
        rank = next((r.rank for r in entry.ranks if r.rank.measure == _PERCENT_POSITIVE), None)
        rows.append(
            [
                composite_name(entry.composite),
                cell.n if cell else None,
                _pct(cell.percent_positive) if cell else None,
                f"{cell.mean:.2f}" if cell else None,
                f"{cell.mean_low:.2f}–{cell.mean_high:.2f}"
                if cell and cell.mean_low is not None
                else None,
                _pct(dist.p50) if dist else None,
                f"{_pct(dist.p25)}–{_pct(dist.p75)}" if dist else None,
                f"{rank.percentile_rank * 100:.0f}%" if rank else None,
                len(entry.breakdowns),
            ]
        )
    title = f"Scorecard: {_name(reply.site)} ({reply.site.site_id}), wave {wave_name(reply.wave)}: {responded}"
    headers = [
        "composite",
        "n",
        "% positive",
        "mean",
        "95% CI",
        "peer median",
        "peer IQR",
        "percentile",
        "breakdowns",
    ]
    return render(headers, rows, title=title)


def comparison(replies: Sequence[query_pb2.CompareSitesResponse], composite: int, wave: int) -> str:
    rows = []
    for reply in replies:
        for row in reply.sites:
            cell = _cell(row.total, CompositeCell)
            rows.append(
                [
                    _name(row.site),
                    row.site.site_id,
                    row.site.region,
                    cell.n,
                    _pct(cell.percent_positive),
                    f"{cell.mean:.2f}",
                    _rank(row),
                ]
            )
    title = f"Sites compared on {composite_name(composite)}, wave {wave_name(wave)} (best first)"
    table = render(
        ["site", "id", "region", "n", "% positive", "mean", "percentile"], rows, title=title
    )
    if replies and replies[0].HasField("distribution"):
        d = replies[0].distribution.distribution
        table += (
            f"\nDistribution over {d.sites} eligible sites: p10 {d.p10:.1f}  p25 {d.p25:.1f}  "
            f"p50 {d.p50:.1f}  p75 {d.p75:.1f}  p90 {d.p90:.1f}"
        )
    return table


def distribution(reply: query_pb2.GetDistributionResponse) -> str:
    rows = []
    for message in reply.distributions:
        d = _cell(message, DistributionCell)
        rows.append(
            [d.composite.value, d.measure.value, d.sites, d.p10, d.p25, d.p50, d.p75, d.p90]
        )
    table = render(
        ["composite", "measure", "sites", "p10", "p25", "p50", "p75", "p90"],
        rows,
        title="Cross-site distribution (anonymous)",
    )
    if reply.ranks:
        ranks = [_cell(m, RankCell) for m in reply.ranks]
        table += "\n\n" + render(
            ["composite", "measure", "score", "percentile"],
            [
                [r.composite.value, r.measure.value, r.score, f"{r.percentile_rank * 100:.0f}%"]
                for r in ranks
            ],
            title=f"Percentile ranks of {ranks[0].site_id}",
        )
    return table


def disparities(replies: Sequence[query_pb2.ListDisparitiesResponse]) -> str:
    rows = []
    for reply in replies:
        for message in reply.disparities:
            d = _cell(message, DisparityCell)
            rows.append(
                [
                    d.site_id,
                    d.wave.value,
                    d.composite.value,
                    d.dimension,
                    f"{d.group} vs {d.reference_group}",
                    d.n,
                    d.reference_n,
                    f"{d.difference:+.1f}",
                    f"[{d.difference_low:+.1f}, {d.difference_high:+.1f}]",
                    "yes" if d.significant else "no",
                ]
            )
    headers = [
        "site",
        "wave",
        "composite",
        "dimension",
        "groups",
        "n",
        "ref n",
        "gap (pp)",
        "95% CI",
        "significant",
    ]
    return render(headers, rows, title="Disparities, largest significant gaps first")


def trend(reply: query_pb2.GetTrendResponse) -> str:
    rows = []
    for entry in reply.trends:
        points = {cell.wave.value: cell for cell in (_cell(p, CompositeCell) for p in entry.points)}
        for message in entry.changes:
            c = _cell(message, ChangeCell)
            rows.append(
                [
                    c.composite.value,
                    f"{c.from_wave.value} → {c.to_wave.value}",
                    _pct(c.from_percent_positive),
                    _pct(c.to_percent_positive),
                    f"{c.difference:+.1f}",
                    f"[{c.difference_low:+.1f}, {c.difference_high:+.1f}]",
                    c.direction.value.replace("_", " "),
                ]
            )
        if not entry.changes:
            for wave, point in points.items():
                rows.append(
                    [
                        composite_name(entry.composite),
                        wave,
                        _pct(point.percent_positive),
                        None,
                        None,
                        None,
                        "one wave only",
                    ]
                )
    headers = ["composite", "waves", "from", "to", "change (pp)", "95% CI", "verdict"]
    return render(headers, rows, title=f"Trend: {_name(reply.site)} ({reply.site.site_id})")


def reach(reply: query_pb2.GetInterventionReachResponse) -> str:
    rows = []
    for message in reply.reach:
        r = _cell(message, ReachCell)
        rows.append([r.metric, "/".join(r.qualifier) or "—", f"{r.value:.3g}", r.n])
    return render(
        ["metric", "qualifier", "value", "n"],
        rows,
        title=f"Intervention reach: {_name(reply.site)} ({reply.site.site_id})",
    )


def sites(replies: Sequence[query_pb2.ListSitesResponse]) -> str:
    rows = [
        [
            listing.site.site_id,
            listing.site.name,
            listing.site.region,
            ", ".join(wave_name(w) for w in listing.waves) or "—",
        ]
        for reply in replies
        for listing in reply.sites
    ]
    return render(["id", "name", "region", "published waves"], rows, title="Sites")


def composites(replies: Sequence[query_pb2.ListCompositesResponse]) -> str:
    rows = [
        [composite_name(entry.composite), ", ".join(wave_name(w) for w in entry.waves) or "—"]
        for reply in replies
        for entry in reply.composites
    ]
    return render(["composite", "waves with benchmarks"], rows, title="Composites")


def watch_line(message: query_pb2.WatchResponse) -> str:
    phase = query_pb2.WatchPhase.Name(message.phase).removeprefix("WATCH_PHASE_").lower()
    parts = [f"v{message.view_version} {phase}"]
    if message.cells:
        parts.append(
            f"{len(message.cells)} cells: "
            + ", ".join(c.key for c in message.cells[:3])
            + (" …" if len(message.cells) > 3 else "")
        )
    if message.withdrawn_keys:
        parts.append(
            "withdrawn: "
            + ", ".join(message.withdrawn_keys[:3])
            + (" …" if len(message.withdrawn_keys) > 3 else "")
        )
    return "  ".join(parts)
