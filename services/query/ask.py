"""What every answer is computed from: one snapshot, the caller, and the paging limits."""

from __future__ import annotations

from dataclasses import dataclass

from services.query.paging import Page, Paged, page_of
from services.query.snapshot import Snapshot
from shared.auth import Principal


@dataclass(frozen=True)
class Ask:
    snapshot: Snapshot
    principal: Principal
    default_page_size: int = 50
    max_page_size: int = 500

    def page(self, request: Paged) -> Page:
        return page_of(
            request,
            self.principal,
            default_size=self.default_page_size,
            max_size=self.max_page_size,
        )
