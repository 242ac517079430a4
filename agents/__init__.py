"""Agent plugins. Each is registered by name in pyproject.toml (entry-point group ``lab.agents``)."""
