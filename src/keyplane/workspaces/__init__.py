"""Workspaces of an org (OpenRouter's workspace, Cortecs's project): lookups and management."""
