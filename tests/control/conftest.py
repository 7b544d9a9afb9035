"""Fixtures shared by the control tests."""

from __future__ import annotations

import pytest

from .postgres import postgres_dsn


@pytest.fixture(scope="session")
def pg_dsn():
    """A PostgreSQL DSN (one throwaway server for the whole run), or None."""
    with postgres_dsn() as dsn:
        yield dsn
