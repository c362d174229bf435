"""The engine tests' receiver fixture, for the diff-mode tests."""

from tests.engine.conftest import receiver

__all__ = ["receiver"]
