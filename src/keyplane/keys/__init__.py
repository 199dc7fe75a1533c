"""API keys: issue, list, change, revoke and delete, for both inference and management keys."""
