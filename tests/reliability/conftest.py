"""The fault-injection suite trains on the training tests' tiny order history."""

from tests.training.conftest import history_file

__all__ = ["history_file"]
