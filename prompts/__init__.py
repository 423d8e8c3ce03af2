"""Prompt texts shipped as package data, rendered strictly: a missing variable is an error, never a blank.

Templates use `{{ name }}` slots. Rendering is a single pass, so text inserted through a variable (retrieved
passages, the user's question) is never scanned for further slots.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["MissingVariableError", "load", "phrase", "render", "variables"]

_SLOT = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class MissingVariableError(KeyError):
    """A template was rendered without one of its variables."""


@lru_cache(maxsize=32)
def load(name: str) -> str:
    """The raw text of `prompts/<name>.txt`."""
    return resources.files(__name__).joinpath(f"{name}.txt").read_text(encoding="utf-8")


def variables(name: str) -> set[str]:
    """The slot names a template expects."""
    return set(_SLOT.findall(load(name)))


def render_text(template: str, values: dict[str, Any]) -> str:
    """Fill every `{{ name }}` slot of `template`; raise MissingVariableError when one has no value."""
    missing = sorted(set(_SLOT.findall(template)) - values.keys())
    if missing:
        raise MissingVariableError(f"prompt variables missing: {', '.join(missing)}")
    return _SLOT.sub(lambda m: str(values[m.group(1)]), template)


def render(name: str, **values: Any) -> str:
    """Render `prompts/<name>.txt` with the given variables (strict)."""
    return render_text(load(name), values)


@lru_cache(maxsize=1)
def _phrases() -> dict[str, str]:
    raw = resources.files(__name__).joinpath("phrases.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(raw)
    return {str(k): str(v) for k, v in data.items()}


def phrase(key: str, **values: Any) -> str:
    """A fixed user-facing sentence from `prompts/phrases.yaml`, with `{name}` placeholders filled strictly."""
    text = _phrases()[key]
    try:
        return text.format(**values)
    except KeyError as exc:
        raise MissingVariableError(f"phrase {key!r} needs variable {exc.args[0]}") from None
