"""Thin adapters: each parses its own request shape, calls the services, renders its own shape."""
