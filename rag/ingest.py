"""Build the search index from corpus files: parse, chunk, embed (cached), then switch atomically.

    policy-qa ingest                 # index seeds/ (or POLICY_QA_CORPUS)
    policy-qa ingest docs/ a.pdf     # add or replace these files' and folders' essays, keep the rest
    policy-qa ingest --rebuild       # index exactly the given paths, from scratch

Idempotent: the index fingerprint covers the embedding model, the chunk settings and every chunk's
content hash, so re-ingesting unchanged text changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag import datadir
from rag.chunking import chunk_corpus, index_records, split_parts
from rag.config import Settings
from rag.corpus import Limits, content_key, corpus_signature, load_corpus
from rag.embeddings import CachedEmbedder, Embedder, PolicyQAEmbeddingFunction, embedder_config, make_embedder
from rag.errors import CorpusError, StoreBusyError, StoreDamagedError, StoreError, StoreReadOnlyError
from rag.store import IndexInfo, Store
from rag.types import Chunk, Essay

Progress = Callable[[str], None]
_EMBED_BATCH = 32
CHARS_PER_TOKEN_MAX = 4


def _quiet(_message: str) -> None:
    return None


@dataclass
class IngestReport:
    """What an ingest did: counts, whether anything changed, and the files it could not read."""

    essays: int = 0
    chunks: int = 0
    parts: int = 0
    embedded: int = 0
    reused: int = 0
    unchanged: bool = False
    collection: str = ""
    embedding_model: str = ""
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the CLI."""
        if self.unchanged:
            head = f"索引已是最新：{self.essays} 篇文章，{self.chunks} 个片段（未改动）"
        else:
            head = (f"已建立索引：{self.essays} 篇文章，{self.chunks} 个片段"
                    + (f"（{self.parts} 个子段落向量）" if self.parts else "")
                    + f"；新嵌入 {self.embedded}，"
                    f"复用缓存 {self.reused}；模型 {self.embedding_model}；用时 {self.seconds:.1f} 秒")
        if self.errors:
            head += f"；{len(self.errors)} 个文件未能读取"
        if self.duplicates:
            head += f"；{len(self.duplicates)} 个文件与已有内容重复，未重复索引"
        return head


def effective_part_size(settings: Settings, embedder: Embedder | None) -> int:
    """Sub-passage size in tokens, 0 when there are no vectors at all (lexical-only search)."""
    return settings.part_size if embedder is not None else 0


def make_parts(chunks: Sequence[Chunk], part_size: int) -> list[tuple[int, str]]:
    """(chunk index, sub-passage text) for every chunk; none when part_size is 0."""
    if part_size <= 0:
        return []
    return [(i, t) for i, c in enumerate(chunks) for t in split_parts(c.text, part_size)]


def fingerprint(chunks: Sequence[Chunk], essays: Sequence[Essay], embedding: dict[str, object], part_size: int = 0) -> str:
    """Hash of everything that determines the index content."""
    h = hashlib.sha256(json.dumps({**embedding, "part_size": part_size}, sort_keys=True).encode())
    for c in chunks:
        h.update(c.id.encode())
        h.update(json.dumps(c.metadata(), sort_keys=True, ensure_ascii=False).encode())
    for e in essays:
        h.update(json.dumps(e.to_dict(), sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()


def embed_texts(embedder: Embedder | None, texts: Sequence[str], progress: Progress = _quiet, label: str = "嵌入") -> np.ndarray:
    """Passage vectors (a constant 1-d vector each when searching lexically only), with progress in batches."""
    if embedder is None:
        return np.ones((len(texts), 1), dtype=np.float32)
    out = []
    step = _EMBED_BATCH if len(texts) > _EMBED_BATCH else max(len(texts), 1)
    for i in range(0, len(texts), step):
        out.append(embedder.embed_passages(texts[i : i + step]))
        if len(texts) > step:
            progress(f"{label} {min(i + step, len(texts))}/{len(texts)}")
    return np.concatenate(out) if out else np.zeros((0, embedder.dim), dtype=np.float32)


def embed_chunks(embedder: Embedder | None, chunks: Sequence[Chunk], progress: Progress = _quiet) -> np.ndarray:
    """Passage vectors for the chunks."""
    return embed_texts(embedder, [c.text for c in chunks], progress)


def build_index(
    settings: Settings,
    essays: Sequence[Essay],
    store: Store,
    embedder: Embedder | None,
    force: bool = False,
    progress: Progress = _quiet,
    corpus_sig: str = "",
) -> tuple[IndexInfo, IngestReport]:
    """Chunk, embed and publish `essays` as the new generation unless the index already holds exactly them."""
    started = time.perf_counter()
    chunks = index_records(essays, settings.chunk_size, settings.chunk_overlap)  # passages + byline records
    cfg = embedder_config(embedder)
    part_size = effective_part_size(settings, embedder)
    fp = fingerprint(chunks, essays, cfg, part_size)
    report = IngestReport(essays=len(essays), chunks=len(chunks), embedding_model=str(cfg["model"]))
    with store.write_lock():
        current = store.current()
        if current is not None and current.fingerprint == fp and not force:
            report.unchanged, report.collection = True, current.collection
            if current.corpus_sig != corpus_sig:
                current = store.record_corpus_signature(current, corpus_sig)
            return current, report
        progress(f"切分完成：{len(essays)} 篇文章，{len(chunks)} 个片段；正在嵌入……")
        parts = make_parts(chunks, part_size)
        report.parts = len(parts)
        before = (embedder.hits, embedder.misses) if isinstance(embedder, CachedEmbedder) else (0, 0)
        vectors = embed_chunks(embedder, chunks, progress)
        part_vectors = embed_texts(embedder, [t for _i, t in parts], progress, "嵌入子段落") if parts else None
        if isinstance(embedder, CachedEmbedder):
            report.reused = embedder.hits - before[0]
            report.embedded = embedder.misses - before[1]
        else:
            report.embedded = len(chunks) + len(parts) if embedder is not None else 0
        progress("写入向量库并切换索引……")
        info = store.publish(chunks, vectors, essays, PolicyQAEmbeddingFunction.for_embedder(embedder), fp, progress,
                             parts, part_vectors, part_size, corpus_sig)
    report.collection = info.collection
    report.seconds = time.perf_counter() - started
    return info, report


def _open_store(settings: Settings, progress: Progress) -> Store:
    """The store, with a damaged embedded one moved aside first (it is derived data) and said so in one line."""
    from rag.store import reset_persistent_store

    try:
        store = Store(settings)
        store.current()
        return store
    except (StoreBusyError, StoreReadOnlyError):
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - Chroma's Rust core panics with a BaseException on damaged files
        if settings.chroma_url or datadir.is_read_only(settings):
            raise
        if isinstance(exc, OSError):  # a file-system problem, not damage: say which path, move nothing
            raise StoreError(f"无法访问 {datadir.shown(exc.filename or settings.index_dir)}：{exc.strerror}") from None
        why = str(exc) if isinstance(exc, StoreDamagedError) else f"索引已损坏或无法读取（{type(exc).__name__}）"
        moved = reset_persistent_store(settings)
        progress(f"{why}；已移到 {datadir.shown(moved)}，将重新建立索引。")
        return Store(settings)


def _unique_ids(kept: Sequence[Essay], new: Sequence[Essay]) -> list[Essay]:
    """Give a new essay whose id is taken (the same file name in another folder) an id qualified by its path."""
    taken = {e.id for e in kept}
    out = []
    for e in new:
        if e.id in taken:
            stem, _sep, n = e.id.rpartition("-")
            tag = hashlib.sha1(str(Path(e.source).resolve()).encode()).hexdigest()[:6]
            e = Essay(f"{stem}-{tag}-{n}" if stem else f"{e.id}-{tag}", e.title, e.author, e.affiliation, e.source,
                      e.sections)
        taken.add(e.id)
        out.append(e)
    return out


def _drop_duplicates(kept: Sequence[Essay], new: Sequence[Essay], progress: Progress) -> tuple[list[Essay], list[str]]:
    """New essays whose text is already indexed or read from an earlier file are left out, one line per file."""
    seen = {content_key(e): e.source for e in kept}
    out: list[Essay] = []
    reported: dict[str, str] = {}
    for e in new:
        key = content_key(e)
        first = seen.get(key)
        if first is not None and first != e.source:
            if e.source not in reported:
                reported[e.source] = f"{datadir.shown(e.source)}：内容与 {datadir.shown(first)} 相同，只索引一次"
                progress(f"重复：{reported[e.source]}")
            continue
        seen.setdefault(key, e.source)
        out.append(e)
    return out, list(reported.values())


def _within_chunk_limit(settings: Settings, essays: Sequence[Essay], on_error: Callable[[CorpusError], None]) -> list[Essay]:
    """Drop the essays of a file that would make more than POLICY_QA_MAX_CHUNKS_PER_FILE chunks (before embedding)."""
    by_file: dict[str, list[Essay]] = {}
    for e in essays:
        by_file.setdefault(e.source, []).append(e)
    out: list[Essay] = []
    for source, group in by_file.items():
        chars = sum(len(p) for e in group for s in e.sections for p in s.paragraphs)
        # No chunk holds more than ~4 characters per token (Latin text; Chinese averages 0.6, 95 characters per
        # 160-token chunk on the seed page), so a longer file is over the limit without chunking it (chunking
        # runs at ~300,000 characters/s here: a 20 MB file would cost 20 s of start-up).
        if chars > CHARS_PER_TOKEN_MAX * settings.chunk_size * settings.max_chunks_per_file:
            n = chars // (CHARS_PER_TOKEN_MAX * settings.chunk_size)
        else:
            n = len(chunk_corpus(group, settings.chunk_size, settings.chunk_overlap))
        if n > settings.max_chunks_per_file:
            on_error(CorpusError(datadir.shown(source), f"会切成至少 {n} 个片段，超过上限 {settings.max_chunks_per_file}"
                                 "（POLICY_QA_MAX_CHUNKS_PER_FILE）"))
            continue
        out += group
    return out


def ingest(settings: Settings, paths: list[Path] | None, rebuild: bool, progress: Progress = _quiet) -> IngestReport:
    """Index the given files/folders (default: the corpus folder); without `rebuild`, other indexed files stay.

    A folder given here replaces everything indexed from it before, so files deleted from it leave the index.
    Identical text is indexed once; a file over a limit is skipped with one line; when files were given and none
    of them could be read, nothing changes and StoreError says why."""
    errors: list[str] = []

    def on_error(err: CorpusError) -> None:
        errors.append(str(err))
        progress(f"跳过：{err}")

    targets = paths or [settings.corpus]
    progress(f"读取语料：{', '.join(datadir.shown(p) for p in targets)}")
    if datadir.is_read_only(settings):
        raise StoreReadOnlyError(datadir.read_only_message(settings))
    with_corpus = _same_path_in(settings.corpus, targets)
    corpus_sig = corpus_signature([settings.corpus]) if with_corpus else ""
    loaded = load_corpus(targets, on_error=on_error, limits=Limits.from_settings(settings), progress=progress)
    loaded = _within_chunk_limit(settings, loaded, on_error)
    if not loaded and errors:
        raise StoreError(f"没有一个文件能读取（{len(errors)} 个文件已跳过，原因见上），索引未改动。")
    store = _open_store(settings, progress)
    embedder = make_embedder(settings)
    kept: list[Essay] = []
    if not rebuild:
        current = store.current()
        if current is not None:
            try:
                kept = store.load_essays(current)
            except StoreError:
                kept = []
            new_sources = {Path(e.source).resolve() for e in loaded}
            folders = [p.resolve() for p in targets if p.is_dir()]
            kept = [e for e in kept if Path(e.source).resolve() not in new_sources and not _under(e.source, folders)]
            corpus_sig = corpus_sig or current.corpus_sig  # the corpus part of the index is as it was
    fresh, duplicates = _drop_duplicates(kept, loaded, progress)
    essays = kept + _unique_ids(kept, fresh)
    if not essays:
        raise StoreError("没有可索引的文章（No essays to index）：" + ("; ".join(errors) or "the corpus is empty"))
    _info, report = build_index(settings, essays, store, embedder, force=rebuild, progress=progress,
                                corpus_sig=corpus_sig)
    report.errors = errors
    report.duplicates = duplicates
    progress(report.summary())
    return report


def refresh_if_corpus_changed(settings: Settings, info: IndexInfo, progress: Progress = _quiet) -> IndexInfo:
    """Re-ingest the corpus folder when its files changed since it was indexed (an index that does not hold the
    corpus, or lives on a shared Chroma server, is left alone). Returns the generation to use."""
    if not info.corpus_sig or settings.chroma_url or corpus_signature([settings.corpus]) == info.corpus_sig:
        return info
    progress(f"语料文件有改动（{settings.corpus}），正在更新索引……")
    try:
        ingest(settings, None, rebuild=False, progress=progress)
    except StoreBusyError:
        progress("另一个进程正在写入索引，暂用现有索引。")
        return info
    except StoreError as exc:  # e.g. every corpus file was deleted: keep serving what was indexed
        progress(f"未能更新索引，继续使用现有索引：{exc}")
        return info
    return Store(settings).current() or info


def _same_path_in(path: Path, paths: Sequence[Path]) -> bool:
    target = path.resolve()
    return any(p.resolve() == target for p in paths)


def _under(source: str, folders: Sequence[Path]) -> bool:
    if not folders:
        return False
    src = Path(source).resolve()
    return any(src.is_relative_to(d) for d in folders)
