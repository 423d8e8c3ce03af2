"""Shared test set-up: every test gets its own data directory and no real endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# the seed index, the network guard and small corpora, shared by every module (built once per session)
pytest_plugins = ["retrieval_fixtures"]

REPO = Path(__file__).resolve().parent.parent
SEED_PAGE = REPO / "seeds" / "000_c8df1a2c8d7c4acd.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point POLICY_QA_HOME at a temporary folder and turn off every real endpoint and telemetry."""
    home = tmp_path / "policy-qa-home"
    monkeypatch.setenv("POLICY_QA_HOME", str(home))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "POLICY_QA_BACKEND", "POLICY_QA_MODEL",
                 "POLICY_QA_CHROMA_URL", "POLICY_QA_EMBEDDINGS", "POLICY_QA_CORPUS", "POLICY_QA_AUTH",
                 "POLICY_QA_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    yield home
