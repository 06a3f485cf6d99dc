"""Facts about this process that every stored run carries, for reproducibility."""

from __future__ import annotations

import importlib.metadata
import platform

PACKAGES = ("lrm-lab", "torch", "transformers", "peft", "gradio", "reasoning-gym", "math-verify", "sqlalchemy")


def package_versions() -> dict[str, str]:
    """Return the installed version of each package that shapes a result, plus Python's."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
