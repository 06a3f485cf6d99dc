"""Errors that a user can meet and fix, shown as they are in the UI and the CLI."""


class InputError(ValueError):
    """Invalid user input: the message says which value was wrong and what to do instead."""


class ModelLoadError(RuntimeError):
    """A model that could not be loaded: the message names the model and the likely fix."""
