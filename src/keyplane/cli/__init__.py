"""The keyplane command line: server lifecycle locally, everything else through the HTTP API."""
