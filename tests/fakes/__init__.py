"""Test doubles that are real servers (never mocks of keyplane code)."""
