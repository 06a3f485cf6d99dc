"""Techniques: one module each, one signature, found by name through `TECHNIQUES`."""

from __future__ import annotations

from lrm_lab.errors import InputError
from lrm_lab.techniques.baseline import BaselineOptions, rescore_baseline, run_baseline
from lrm_lab.techniques.memory import MemoryOptions, retrieve_memories
from lrm_lab.techniques.result import (
    AdapterChoice,
    AdapterSource,
    MemoryHit,
    MemorySource,
    Progress,
    RunContext,
    TechniqueResult,
)
from lrm_lab.techniques.gflownet import GFlowNetOptions, run_gflownet
from lrm_lab.techniques.search import SearchOptions, rescore_search, run_search
from lrm_lab.techniques.technique import Rescored, Technique
from lrm_lab.techniques.ttt import TTTOptions, adapt_and_answer

TECHNIQUES: dict[str, Technique] = {
    technique.name: technique
    for technique in (
        Technique(
            name="baseline",
            title="Baseline",
            summary="One greedy chain-of-thought answer.",
            options_type=BaselineOptions,
            run=run_baseline,
            rescore=rescore_baseline,
            sampled=False,  # greedy decoding gives the same answer for every seed
        ),
        Technique(
            name="search",
            title="Search",
            summary="N samples in one batch; majority vote or best-of-N picks the answer.",
            options_type=SearchOptions,
            run=run_search,
            rescore=rescore_search,
        ),
        Technique(
            name="memory",
            title="Memory",
            summary="Verified solutions of similar questions as worked examples; correct answers are remembered.",
            options_type=MemoryOptions,
            prepare=retrieve_memories,
            stage="context",
            sampled=False,  # retrieval is deterministic; the decoding stage decides whether a recipe samples
        ),
        Technique(
            name="ttt",
            title="TTT",
            summary="Test-time training: a throw-away LoRA adapter fitted to variations of the question.",
            options_type=TTTOptions,
            adapt=adapt_and_answer,
            stage="adaptation",
            sampled=True,  # the variations and the adapter's initialisation follow the seed
        ),
        Technique(
            name="gflownet",
            title="GFlowNet",
            summary="N chains from a LoRA sampler trained to draw chains in proportion to their reward; majority vote.",
            options_type=GFlowNetOptions,
            run=run_gflownet,
        ),
    )
}


def get_technique(name: str) -> Technique:
    """Return the technique called `name`, or raise InputError listing the known ones."""
    try:
        return TECHNIQUES[name]
    except KeyError:
        raise InputError(f"Unknown technique {name!r}; choose from {', '.join(TECHNIQUES)}.") from None


__all__ = ["TECHNIQUES", "AdapterChoice", "AdapterSource", "MemoryHit", "MemorySource", "Progress", "Rescored", "RunContext", "Technique", "TechniqueResult", "get_technique"]
