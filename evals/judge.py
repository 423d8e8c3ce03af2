"""Optional LLM judge: split an answer into claims and check each against the cited passages (RAGAS-style)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from importlib import resources
from string import Template
from typing import Protocol

from evals.metrics import Outcome
from rag.config import Settings
from rag.errors import LLMConfigError, PolicyQAError

JUDGE_MAX_TOKENS = 800


class ChatModel(Protocol):
    """The chat-model seam (rag.llm.ChatModel) as the judge uses it."""

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]: ...


def render_prompt(answer: str, passages: list[str]) -> str:
    """Fill the judge prompt; a missing variable raises (strict substitution)."""
    template = Template(resources.files("evals").joinpath("judge_prompt.md").read_text(encoding="utf-8"))
    numbered = "\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages, 1))
    return template.substitute(answer=answer, passages=numbered)


def parse_verdict(text: str) -> float | None:
    """Share of supported claims in the judge's JSON reply; None when the reply is unusable."""
    match = re.search(r"\{.*\}", text, re.S)
    if not match:
        return None
    try:
        claims = json.loads(match.group(0)).get("claims")
    except (json.JSONDecodeError, AttributeError):
        return None
    if not isinstance(claims, list):
        return None
    verdicts = [c.get("supported") is True for c in claims if isinstance(c, dict)]
    return sum(verdicts) / len(verdicts) if verdicts else 1.0


class Judge:
    """Rates faithfulness of an answer to the passages it cites."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model

    @classmethod
    def from_settings(cls, settings: Settings, fallback: ChatModel | None = None) -> Judge:
        """The configured OpenAI-compatible endpoint, else `fallback` (the run's own local model)."""
        if settings.endpoint_configured:
            from rag.llm import OpenAIChatModel

            return cls(OpenAIChatModel.from_settings(settings))
        if fallback is not None:
            return cls(fallback)
        raise LLMConfigError("--judge needs a language model: set OPENAI_API_KEY or OPENAI_BASE_URL, "
                             "or run with --backend local.")

    def rate(self, outcome: Outcome) -> Outcome:
        """The outcome with its faithfulness filled in (None when the judge fails)."""
        prompt = render_prompt(outcome.answer, [p.text for p in outcome.cited])
        try:
            reply = "".join(self.model.stream([{"role": "user", "content": prompt}], max_tokens=JUDGE_MAX_TOKENS))
        except PolicyQAError:
            return outcome
        return replace(outcome, faithfulness=parse_verdict(reply))
