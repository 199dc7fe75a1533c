"""Authentication: key formats and hashing, passwords, user sessions, and the request principal."""
