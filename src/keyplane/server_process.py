"""The process `keyplane serve` becomes: uvicorn and the app, with neither the CLI nor Alembic in memory.

`keyplane serve` checks the settings and applies migrations, then replaces itself with this module
(same PID, same environment), so the serving process holds only what serving imports.
"""

from __future__ import annotations

import argparse


def run(host: str, port: int, workers: int) -> None:
    """Serve `keyplane.asgi:app` with keyplane's uvicorn settings until a signal stops it."""
    import uvicorn

    from keyplane.config import get_settings
    from keyplane.surfaces.http_server import server_options

    uvicorn.run(
        "keyplane.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level=get_settings().log_level,
        factory=False,
        timeout_graceful_shutdown=30,
        # The parser's own 400s in the surface's JSON shape, no WebSockets, and X-Forwarded-For
        # read only by keyplane.deps.client_ip (KEYPLANE_TRUSTED_PROXIES), never by uvicorn.
        **server_options(),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m keyplane.server_process", description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    run(args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
