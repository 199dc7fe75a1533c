"""One error base for every rule a service enforces; each surface renders it in its own shape."""

from __future__ import annotations


class KeyplaneError(Exception):
    """A failure the caller can act on: an HTTP status, a stable code string and a message."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(
        self, message: str, *, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = headers or {}


class BadRequest(KeyplaneError):
    status_code = 400
    code = "bad_request"


class Unauthorized(KeyplaneError):
    status_code = 401
    code = "unauthorized"


class PaymentRequired(KeyplaneError):
    status_code = 402
    code = "payment_required"


class Forbidden(KeyplaneError):
    status_code = 403
    code = "forbidden"


class NotFound(KeyplaneError):
    status_code = 404
    code = "not_found"


class Conflict(KeyplaneError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(KeyplaneError):
    status_code = 413
    code = "payload_too_large"


class RateLimited(KeyplaneError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class UpstreamError(KeyplaneError):
    status_code = 502
    code = "upstream_error"


class ServiceUnavailable(KeyplaneError):
    status_code = 503
    code = "unavailable"
