"""Chinese word segmentation with part-of-speech flags (jieba), its dictionary read from SQLite on demand.

jieba loads its whole dictionary (349,000 words and their 584,000 prefixes, plus a tag per word) into Python
dicts before the first cut: about 0.7 s on 2 cores, most of a one-off `policy-qa ask`. A question only ever
looks up its own substrings, so the dictionary is written once into an SQLite file under the cache folder
and looked up key by key (a question of 20 characters needs about 100 lookups, well under a millisecond).
The cut is jieba's own algorithm on jieba's own dictionary: the output is the same word for word
(tests/test_segment.py compares both on every question set).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_tokenizer: Any = None

# Lookups memoised per process: a server answering many questions keeps the words it has met in memory.
LOOKUP_CACHE = 200_000


class _DiskTable(Mapping[str, Any]):
    """A read-only mapping over one column of the dictionary table (missing or NULL means absent)."""

    def __init__(self, db: sqlite3.Connection, column: str) -> None:
        self._db = db
        self._query = f"SELECT {column} FROM words WHERE k = ?"  # column is one of two literals below
        self._get = lru_cache(maxsize=LOOKUP_CACHE)(self._lookup)

    def _lookup(self, key: str) -> Any:
        row = self._db.execute(self._query, (key,)).fetchone()
        return None if row is None else row[0]

    def __getitem__(self, key: str) -> Any:
        value = self._get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._get(key) is not None

    def get(self, key: str, default: Any = None) -> Any:
        value = self._get(key)
        return default if value is None else value

    def __iter__(self) -> Iterator[str]:  # never needed by a cut; kept correct anyway
        return (row[0] for row in self._db.execute("SELECT k FROM words"))

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM words").fetchone()[0])


def _dictionary_file() -> Path:
    import jieba

    return Path(jieba.__file__).with_name("dict.txt")


def _build(source: Path, dest: Path) -> None:
    """Write jieba's dictionary as (key, frequency, tag) rows, the way jieba builds its prefix dict."""
    freq: dict[str, int] = {}
    tags: dict[str, str] = {}
    total = 0
    with source.open("rb") as f:
        for raw in f:
            line = raw.strip().decode("utf-8")
            if not line:
                continue
            word, count, tag = line.split(" ")
            freq[word] = int(count)
            total += int(count)
            tags[word] = tag
            for i in range(1, len(word)):
                freq.setdefault(word[:i], 0)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".tmp")
    os.close(fd)
    try:
        db = sqlite3.connect(tmp)
        db.execute("CREATE TABLE words (k TEXT PRIMARY KEY, freq INTEGER NOT NULL, tag TEXT) WITHOUT ROWID")
        db.execute("CREATE TABLE meta (total INTEGER NOT NULL)")
        db.executemany("INSERT INTO words VALUES (?, ?, ?)", ((k, v, tags.get(k)) for k, v in freq.items()))
        db.execute("INSERT INTO meta VALUES (?)", (total,))
        db.commit()
        db.close()
        os.replace(tmp, dest)  # atomic: a concurrent first run sees the old state or the whole file
    finally:
        Path(tmp).unlink(missing_ok=True)


def _database(cache_dir: Path | None) -> Path:
    source = _dictionary_file()
    stat = source.stat()
    digest = hashlib.sha1(f"{source}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    folder = cache_dir if cache_dir is not None else Path(tempfile.gettempdir())
    dest = folder / f"jieba-dict-{digest}.sqlite"
    if not dest.exists() and folder.is_dir() and not os.access(folder, os.W_OK):
        # a read-only data folder (docs/index.md): build the dictionary in the system's temporary folder instead
        dest = Path(tempfile.gettempdir()) / dest.name
    if not dest.exists():
        _build(source, dest)
    return dest


def _import_posseg(tags: _DiskTable) -> Any:
    import jieba

    if "jieba.posseg" not in sys.modules:
        # Importing jieba.posseg builds a module-level tagger that reads all of dict.txt for its tags (0.2 s).
        # Point the default tokenizer at an empty file for that moment, then give that tagger the disk tags,
        # so jieba.posseg.cut elsewhere in the process still tags correctly.
        saved = jieba.dt.dictionary
        jieba.dt.dictionary = os.devnull
        try:
            import jieba.posseg
        finally:
            jieba.dt.dictionary = saved
        jieba.posseg.dt.word_tag_tab = tags
    import jieba.posseg

    return jieba.posseg


def _open(cache_dir: Path | None) -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    db = sqlite3.connect(f"file:{_database(cache_dir)}?mode=ro", uri=True, check_same_thread=False)
    total = int(db.execute("SELECT total FROM meta").fetchone()[0])
    tags = _DiskTable(db, "tag")
    posseg = _import_posseg(tags)

    tokenizer = jieba.Tokenizer()
    # What jieba's initialize() would fill from its cache: the prefix-frequency dict and the frequency total.
    tokenizer.FREQ = _DiskTable(db, "freq")
    tokenizer.total = total
    tokenizer.initialized = True
    tagger = posseg.POSTokenizer.__new__(posseg.POSTokenizer)
    tagger.tokenizer = tokenizer  # what POSTokenizer.__init__ sets, minus reading dict.txt a second time
    tagger.word_tag_tab = tags
    return tagger


def cut(text: str, cache_dir: Path | None = None) -> list[tuple[str, str]]:
    """(word, part-of-speech flag) pairs of `text`, as `jieba.posseg.cut` gives them."""
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            _tokenizer = _open(cache_dir)
        return [(w.word, w.flag) for w in _tokenizer.cut(text)]


def frequency(word: str, cache_dir: Path | None = None) -> int:
    """How often jieba's dictionary counts `word` as a word (0 when it is no entry: a guess of its HMM)."""
    cut(word, cache_dir)  # opens the dictionary once
    with _lock:
        value = _tokenizer.FREQ.get(word) if _tokenizer is not None else None
    return int(value or 0)
