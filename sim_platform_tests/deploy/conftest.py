"""Deployment tests reuse the storage suite's real Azurite (a session fixture)."""

from sim_platform_tests.storage.conftest import azurite  # noqa: F401  (fixture re-export)
