"""Price-table changes reach the gateway's price cache right after their commit, never before.

The pricing service marks its session; after the commit the session's PRICE_SINK (set by the
gateway at start-up, `session.info`) is called. Other processes see the change within the cache TTL.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

PRICE_SINK = "keyplane.price_changes"  # session.info entry: called (no arguments) after the commit
_CHANGED = "keyplane.prices_changed"

PriceSink = Callable[[], None]


def mark_prices_changed(session: AsyncSession) -> None:
    """Called by the pricing service with each change; the sink runs only if the change commits."""
    session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        sink: PriceSink | None = session.info.get(PRICE_SINK)
        if sink is not None:
            sink()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)
