"""Shared test set-up: a pseudonymisation key from the environment, never a file."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIP_SIM_PSEUDONYM_KEY", "test-key-not-secret")
