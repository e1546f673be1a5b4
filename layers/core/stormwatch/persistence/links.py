"""Signed links once opened: the conditional put that makes each link single-use."""

from __future__ import annotations

from datetime import datetime

from stormwatch.model import iso
from stormwatch.persistence import keys
from stormwatch.persistence.table import Table


class LinkUses:
    def __init__(self, table: Table) -> None:
        self.table = table

    def first_use(self, link_id: str, by: str, at: datetime, expires_at: datetime) -> bool:
        """Record that `by` opened the link; False when somebody already had."""
        item = {
            **keys.link_use(link_id),
            "by": {"S": by},
            "at": {"S": iso(at)},
            # Kept (TTL) a day past the link's own expiry: it is refused as expired by then.
            "expires_at": {"N": str(int(expires_at.timestamp()) + 86400)},
        }
        return self.table.put_new(item)
