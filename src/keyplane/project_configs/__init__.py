"""Per-workspace settings: the project config (Cortecs's inference_config) the gateway applies."""
