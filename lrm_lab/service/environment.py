"""Facts about this process that every stored run carries, for reproducibility."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from functools import lru_cache
from pathlib import Path

import lrm_lab

REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGES = ("torch", "transformers", "peft", "gradio", "reasoning-gym", "math-verify", "sqlalchemy")


def package_versions() -> dict[str, str]:
    """Return the installed version of each package that shapes a result, plus Python's."""
    versions = {"python": platform.python_version(), "lrm-lab": lrm_lab.__version__, "lrm-lab commit": source_commit()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@lru_cache(maxsize=1)
def source_commit() -> str:
    """Return the git commit of the lab's source, with "+changes" when the checkout has edits, or "unknown"."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPOSITORY, capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPOSITORY,
                                capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):  # no git, or not a checkout (a container image)
        return "unknown"
    return commit + ("+changes" if status.strip() else "")
