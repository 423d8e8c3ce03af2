"""Language-model endpoints: the one function that builds the OpenAI client."""

from __future__ import annotations

import openai

from rag.config import Settings
from rag.errors import LLMConfigError


def make_openai_client(settings: Settings) -> openai.OpenAI:
    """Build the OpenAI-compatible client with an explicit timeout and bounded retries."""
    if not settings.endpoint_configured:
        raise LLMConfigError("No OpenAI-compatible endpoint is configured: set OPENAI_API_KEY or OPENAI_BASE_URL.")
    return openai.OpenAI(
        api_key=settings.openai_api_key or "not-needed",  # keyless local servers still need a non-empty value
        base_url=settings.openai_base_url or None,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
    )
