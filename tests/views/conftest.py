"""Fixtures shared by the page tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def queued(demo_copy: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo, jobs queued for a worker (none runs until the test says so)."""
    monkeypatch.setenv("GCRM_JOBS", "queue")
    return demo_copy
