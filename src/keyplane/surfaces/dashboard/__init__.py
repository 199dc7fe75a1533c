"""The web dashboard at /dashboard: server-rendered pages over the same services as the APIs."""
