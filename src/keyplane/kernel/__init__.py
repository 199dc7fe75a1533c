"""The shared kernel every package may import: principals, scopes, permissions, money, windows.

It depends only on keyplane.models and keyplane.errors, so dependencies point one way.
"""
