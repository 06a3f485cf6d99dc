"""Shared fixtures: a tiny random model, the embedded model, and a fresh database."""

from __future__ import annotations

import pytest

from lrm_lab.store import Store
from tiny import tiny_backend


@pytest.fixture
def tiny():
    return tiny_backend()


@pytest.fixture
def store(tmp_path):
    opened = Store(f"sqlite:///{tmp_path / 'lab.db'}")
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def embedded():
    """The embedded SmolLM2-135M-Instruct, loaded once for the whole session (about 20 s)."""
    from lrm_lab.models.loader import load_model

    return load_model("embedded")
