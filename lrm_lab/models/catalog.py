"""Models the lab offers in its picker: the embedded default and recommended hub models for GPUs."""

from __future__ import annotations

from dataclasses import dataclass

EMBEDDED = "embedded"


@dataclass(frozen=True)
class CatalogEntry:
    model_id: str
    label: str
    parameters: str  # rounded parameter count, as the model card gives it
    needs_gpu: bool


CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(EMBEDDED, "SmolLM2-135M-Instruct, embedded (no download)", "135M", needs_gpu=False),
    CatalogEntry("Qwen/Qwen2.5-0.5B-Instruct", "Qwen2.5-0.5B-Instruct", "0.5B", needs_gpu=True),
    CatalogEntry("Qwen/Qwen2.5-1.5B-Instruct", "Qwen2.5-1.5B-Instruct", "1.5B", needs_gpu=True),
    CatalogEntry("Qwen/Qwen2.5-Math-1.5B-Instruct", "Qwen2.5-Math-1.5B-Instruct", "1.5B", needs_gpu=True),
    CatalogEntry(
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "DeepSeek-R1-Distill-Qwen-1.5B", "1.5B", needs_gpu=True
    ),
    CatalogEntry("meta-llama/Llama-3.2-1B-Instruct", "Llama-3.2-1B-Instruct (gated)", "1.2B", needs_gpu=True),
    CatalogEntry("HuggingFaceTB/SmolLM2-1.7B-Instruct", "SmolLM2-1.7B-Instruct", "1.7B", needs_gpu=True),
)


def catalog_choices() -> list[tuple[str, str]]:
    """Return (label, model id) pairs for a dropdown; hub model labels note the download and the GPU."""
    choices = []
    for entry in CATALOG:
        if entry.needs_gpu:
            label = f"{entry.label} ({entry.parameters}, downloads from the Hub, GPU recommended)"
        else:
            label = f"{entry.label} ({entry.parameters})"
        choices.append((label, entry.model_id))
    return choices
