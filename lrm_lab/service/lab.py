"""The lab's process state: one model slot and one store, shared by the UI, the API and the CLI."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from lrm_lab.errors import InputError
from lrm_lab.models.base import ModelBackend
from lrm_lab.models.slot import ModelSlot
from lrm_lab.store import Store

log = logging.getLogger(__name__)


class Lab:
    """Hold the loaded model and the database, and the cancel flag of each running comparison."""

    def __init__(self, store: Store | None = None, slot: ModelSlot | None = None, adapter_dir: Path | None = None):
        self.store = store or Store()
        self.slot = slot or ModelSlot()
        # Where trained adapters are saved: $LRM_LAB_ADAPTER_DIR or storage/adapters by default.
        self.adapter_dir = adapter_dir
        self.preload_error: str | None = None  # why the background load of the default model failed
        self._cancels: dict[str, threading.Event] = {}
        self._cancels_lock = threading.Lock()

    @property
    def model(self) -> ModelBackend:
        return self.slot.get()

    def load_model(self, model_id: str) -> ModelBackend:
        """Load another model for every user of this process, unless LRM_LAB_LOCK_MODEL=1 forbids it.

        A public demo sets the variable so that no visitor can swap the shared model or probe
        the server's paths through the model box.
        """
        if os.environ.get("LRM_LAB_LOCK_MODEL") == "1":
            raise InputError("This server keeps its model fixed (LRM_LAB_LOCK_MODEL=1), so it cannot load another.")
        return self.slot.load(model_id)

    def cancel_flag(self, owner: str) -> threading.Event:
        """Return a fresh cancel flag for `owner` (a browser session), replacing any older one."""
        flag = threading.Event()
        with self._cancels_lock:
            self._cancels[owner] = flag
        return flag

    def cancel(self, owner: str) -> bool:
        """Set the cancel flag of `owner`'s running comparison; return whether one was running."""
        with self._cancels_lock:
            flag = self._cancels.get(owner)
        if flag is None or flag.is_set():
            return False
        flag.set()
        log.info("comparison of session %s cancelled by the user", owner)
        return True
