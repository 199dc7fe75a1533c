"""Process-wide state shared by the surfaces: settings, the engine and sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from keyplane.config import Settings


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    secret_key: str
    # Optional services started in the lifespan (gateway workers, redis client, ...), by name.
    services: dict[str, Any] = field(default_factory=dict)
