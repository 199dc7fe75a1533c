"""ASGI entry point for uvicorn and other servers: `keyplane.asgi:app`."""

from keyplane.app import create_app

app = create_app()
