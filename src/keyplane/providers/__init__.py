"""Upstream provider credentials: catalog, secrets at rest, selection rules and model discovery."""
