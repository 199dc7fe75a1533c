"""Which environment variables a credential may reference (`env.NAME`): the operator's list, nothing else.

Only operator-org credentials (the platform's and the operator org's own) may reference the
environment at all, and only names matching KEYPLANE_ALLOWED_ENV_REFS (exact names or shell-style
globs). `KEYPLANE_*` names are keyplane's own (its secret key, its database URL) and never match,
whatever the setting says. The rule is checked when a reference is written and again each time
one is resolved, so a reference stored before (or no longer listed) resolves to nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache

SETTING = "KEYPLANE_ALLOWED_ENV_REFS"
RESERVED_PREFIX = "KEYPLANE_"
_PATTERN = re.compile(r"^[A-Za-z0-9_*?\[\]!-]{1,128}$")


@dataclass(frozen=True, slots=True)
class EnvRefPolicy:
    """The names the operator lets credentials read; the empty policy allows none."""

    patterns: tuple[str, ...] = ()

    def allows(self, name: str) -> bool:
        # Settings are read case-insensitively, so keyplane_secret_key is the secret key too.
        if name.upper().startswith(RESERVED_PREFIX):
            return False
        return any(fnmatchcase(name, pattern) for pattern in self.patterns)


NO_ENV = EnvRefPolicy()


@lru_cache(maxsize=16)
def env_ref_policy(raw: str) -> EnvRefPolicy:
    """Parse the setting: comma-separated names or globs such as `OPENAI_API_KEY,ANTHROPIC_*`."""
    patterns: list[str] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        if not _PATTERN.match(entry):
            raise ValueError(f"{SETTING}: '{entry[:100]}' is not an environment variable name or glob")
        patterns.append(entry)
    return EnvRefPolicy(tuple(patterns))
