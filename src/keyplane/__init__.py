"""keyplane: a self-hosted control plane and gateway for LLM API keys."""

__version__ = "0.1.0"
