"""The one loaded model of this process, swapped only when a new one loads successfully."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from lrm_lab.models.base import ModelBackend
from lrm_lab.models.catalog import EMBEDDED

log = logging.getLogger(__name__)


class ModelSlot:
    """Hold the current backend; `load` keeps the old model when the new one fails to load."""

    def __init__(self, loader: Callable[[str], ModelBackend] | None = None):
        if loader is None:
            from lrm_lab.models.loader import load_model as loader
        self._loader = loader
        self._backend: ModelBackend | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> ModelBackend | None:
        return self._backend

    def get(self) -> ModelBackend:
        """Return the loaded model, loading the embedded default on first use."""
        with self._lock:
            if self._backend is None:
                self._backend = self._loader(EMBEDDED)
            return self._backend

    def load(self, model_id: str) -> ModelBackend:
        """Load `model_id` and make it current; on error the previous model stays loaded."""
        with self._lock:
            backend = self._loader(model_id)  # raises ModelLoadError, leaving the slot unchanged
            previous, self._backend = self._backend, backend
        if previous is not None:
            log.info("replaced model %s with %s", previous.info.model_id, backend.info.model_id)
        return backend

    def set(self, backend: ModelBackend) -> None:
        """Install an already built backend (tests and the benchmark script use this)."""
        with self._lock:
            self._backend = backend
