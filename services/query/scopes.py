"""Release scopes: "site/<site id>" (a site's own cells) and "cross-site/<wave>" (the
distributions and ranks of a wave), as `shared.domain.releases` names them.

The view checks every cell of a release against its scope, so the scopes never share a key
and a release of one scope can never replace or withdraw another scope's cells.
"""

from __future__ import annotations

from dataclasses import dataclass

from jedi.v1 import benchmarks_pb2, common_pb2
from services.query import enums
from shared.domain.benchmark_set import Cell, DistributionCell, RankCell
from shared.domain.model import Wave
from shared.domain.releases import cross_site_scope, site_scope


@dataclass(frozen=True)
class Scope:
    name: str
    site_id: str | None  # the site of a site scope; None for a cross-site scope
    wave: Wave | None  # the wave of a cross-site scope; None for a site scope

    def holds(self, cell: Cell) -> bool:
        """Whether a cell belongs in a release of this scope."""
        if self.wave is not None:
            return isinstance(cell, (DistributionCell, RankCell)) and cell.wave == self.wave
        cross = isinstance(cell, (DistributionCell, RankCell))
        return not cross and getattr(cell, "site_id", None) == self.site_id

    def matches(self, status: benchmarks_pb2.ReleaseStatus) -> bool:
        """Whether a release status says the same scope, site and wave."""
        wave = enums.wave_to_proto(self.wave) if self.wave is not None else 0
        return (
            status.scope == self.name
            and status.site_id == (self.site_id or "")
            and status.wave == wave
        )

    def empty_status(self) -> benchmarks_pb2.ReleaseStatus:
        """The status of the scope with no release (number 0)."""
        return benchmarks_pb2.ReleaseStatus(
            scope=self.name,
            site_id=self.site_id or "",
            wave=enums.wave_to_proto(self.wave)
            if self.wave is not None
            else common_pb2.WAVE_UNSPECIFIED,
        )


def parse_scope(name: str) -> Scope | None:
    """The scope a record key (without "progress/") names, or None for anything else."""
    kind, _, rest = name.partition("/")
    if kind == "site" and rest:
        site_id = rest.replace("%2F", "/").replace("%25", "%")  # undo key_of's escaping
        return Scope(name, site_id, None) if site_scope(site_id) == name else None
    for wave in Wave:
        if cross_site_scope(wave) == name:
            return Scope(name, None, wave)
    return None
