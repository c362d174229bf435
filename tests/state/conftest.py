"""The CLI tests use the engine's project folder (warehouse, config.toml, mappings) and webhook receiver."""

from tests.engine.conftest import project, receiver

__all__ = ["project", "receiver"]
