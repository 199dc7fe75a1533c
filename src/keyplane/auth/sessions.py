"""User sessions as short-lived HS256 JWTs signed with the instance secret."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from keyplane.errors import Unauthorized

ALGORITHM = "HS256"
ISSUER = "keyplane"


@dataclass(frozen=True, slots=True)
class SessionClaims:
    user_id: str
    expires_at: int


def issue_session_token(user_id: str, *, secret: str, ttl_seconds: int) -> tuple[str, int]:
    expires_at = int(time.time()) + ttl_seconds
    token = jwt.encode(
        {
            "sub": user_id,
            "exp": expires_at,
            "iat": int(time.time()),
            "iss": ISSUER,
            "typ": "session",
        },
        secret,
        algorithm=ALGORITHM,
    )
    return token, expires_at


def decode_session_token(token: str, *, secret: str) -> SessionClaims:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER)
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Session expired", code="session_expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("Invalid session token", code="invalid_token") from exc
    if claims.get("typ") != "session" or not isinstance(claims.get("sub"), str):
        raise Unauthorized("Invalid session token", code="invalid_token")
    return SessionClaims(user_id=claims["sub"], expires_at=int(claims["exp"]))


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")
