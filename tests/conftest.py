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


@pytest.fixture(scope="session")
def launched_app(embedded, tmp_path_factory):
    """The real app on the embedded model, served on a free loopback port for the whole session."""
    import socket

    from lrm_lab.models.slot import ModelSlot
    from lrm_lab.service.lab import Lab
    from lrm_lab.ui.app import CSS_PATH, build_app

    slot = ModelSlot()
    slot.set(embedded)
    # Adapters trained through the page go to a temporary folder, never to the repository's storage/.
    lab = Lab(store=Store(f"sqlite:///{tmp_path_factory.mktemp('app') / 'lab.db'}"), slot=slot,
              adapter_dir=tmp_path_factory.mktemp("adapters"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo = build_app(lab)
    demo.queue()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, css_paths=[CSS_PATH])
    yield f"http://127.0.0.1:{port}/", lab
    demo.close()
    lab.store.close()
