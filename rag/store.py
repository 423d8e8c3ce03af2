"""The Chroma store: the one function that builds the client, the write lock, and atomic index switches.

Layout inside Chroma: one collection of chunks per index generation (`policy_qa_<fingerprint>_<n>`), and a
small `policy_qa_meta` collection holding the pointer to the generation in use plus the parsed essays of
each generation. A rebuild fills a new generation and then moves the pointer in one write, so a crash
mid-ingest leaves the previous index serving. Writers hold a file lock under the index folder.

After each switch the writer also replaces a small file, `index/generation.json`, naming the new generation:
a running reader stats it on every request (microseconds) and reopens when it changed (see rag/live.py). A
replaced generation is dropped only after POLICY_QA_KEEP_GENERATIONS_S, and never while it is one of the two
newest, so a reader that opened it just before a switch finishes its request on it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from filelock import FileLock, Timeout

from rag import datadir
from rag.config import Settings
from rag.embeddings import PolicyQAEmbeddingFunction
from rag.errors import ConfigError, StoreBusyError, StoreError, StoreReadOnlyError
from rag.types import Chunk, Essay, Section

META = "policy_qa_meta"
PREFIX = "policy_qa_"
POINTER = "current"
GENERATION_FILE = "generation.json"  # the published generation's name, for readers' cheap change check
PARTS_SUFFIX = "_parts"  # a generation's sub-passage vectors live in "<generation>_parts"
_ADD_BATCH = 2000
_GET_BATCH = 5000


def make_chroma_client(settings: Settings) -> ClientAPI:
    """The Chroma client: HttpClient when POLICY_QA_CHROMA_URL is set, else a PersistentClient under the data folder."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"POLICY_QA_CHROMA_URL must look like http://host:port, got {settings.chroma_url!r}")
        port = url.port or (443 if url.scheme == "https" else 8000)
        try:
            return chromadb.HttpClient(
                host=url.hostname, port=port, ssl=url.scheme == "https", settings=chroma_settings
            )
        except Exception as exc:  # chromadb raises plain ValueError/ConnectError when the server is down
            raise StoreError(f"Cannot reach the Chroma server at POLICY_QA_CHROMA_URL={settings.chroma_url}: {exc}") from None
    datadir.check_home(settings)
    chroma_dir = settings.index_dir / "chroma"
    if chroma_dir.exists() and not chroma_dir.is_dir():
        raise ConfigError(f"索引需要文件夹 {datadir.shown(chroma_dir)}，但它是一个文件；请移走它。")
    if (chroma_dir / datadir.SQLITE_FILE).is_file():
        datadir.check_sqlite(chroma_dir / datadir.SQLITE_FILE)  # before Chroma reads a damaged page
    if datadir.is_read_only(settings):
        if not chroma_dir.is_dir():
            raise StoreReadOnlyError(datadir.read_only_message(settings) + "（这里还没有索引）")
        return chromadb.PersistentClient(path=str(datadir.read_only_copy(chroma_dir)), settings=chroma_settings)
    datadir.index_folder(settings)
    return chromadb.PersistentClient(path=str(chroma_dir), settings=chroma_settings)


def reset_persistent_store(settings: Settings) -> str:
    """Move a damaged embedded store aside (kept for inspection, never read again) so it can be rebuilt; returns
    where it went. A read-only folder is never touched."""
    if datadir.is_read_only(settings):
        raise StoreReadOnlyError(datadir.read_only_message(settings))
    chroma_dir = settings.index_dir / "chroma"
    chromadb.api.client.SharedSystemClient.clear_system_cache()  # forget the open handle on the damaged files
    target = settings.index_dir / f"chroma.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    if chroma_dir.exists():
        chroma_dir.rename(target)
    (settings.index_dir / GENERATION_FILE).unlink(missing_ok=True)
    return str(target)


def generation_signature(settings: Settings) -> tuple[int, int, int] | None:
    """Identity of the published-generation file (replaced on every switch), or None when there is none."""
    try:
        st = os.stat(settings.index_dir / GENERATION_FILE)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass(frozen=True)
class IndexInfo:
    """The generation in use: its collection, fingerprint and the embedding model that filled it."""

    collection: str
    fingerprint: str
    provider: str
    model: str
    dim: int
    count: int
    part_size: int = 0  # tokens per sub-passage; 0 = the generation has no parts collection
    parts: int = 0
    corpus_sig: str = ""  # corpus_signature() of the corpus folder when it was indexed; "" = not indexed

    @property
    def parts_collection(self) -> str | None:
        """Name of the sub-passage collection, if the generation has one."""
        return self.collection + PARTS_SUFFIX if self.parts else None

    @property
    def embedding_config(self) -> dict[str, Any]:
        """The embedding-function config recorded with the collection."""
        return {"provider": self.provider, "model": self.model, "dim": self.dim}


def part_ids(chunks: Sequence[Chunk], parts: Sequence[tuple[int, str]]) -> list[str]:
    """Ids of sub-passages given as (chunk index, text), in chunk order: "<chunk id>-<n>", n counting from 0 in
    each chunk, so a chunk's sub-passages can be fetched by id."""
    seen: dict[int, int] = {}
    out = []
    for i, _t in parts:
        n = seen.get(i, 0)
        seen[i] = n + 1
        out.append(f"{chunks[i].id}-{n}")
    return out


def essay_from_dict(d: dict[str, Any]) -> Essay:
    """Inverse of Essay.to_dict()."""
    return Essay(
        id=d["id"], title=d["title"], author=d["author"], affiliation=d["affiliation"], source=d["source"],
        sections=tuple(Section(s["title"], tuple(s["paragraphs"])) for s in d["sections"]),
    )


class Store:
    """Reads and atomically replaces the chunk index held in Chroma."""

    def __init__(self, settings: Settings, client: ClientAPI | None = None) -> None:
        self.settings = settings
        self.client = client or make_chroma_client(settings)
        self._meta: Collection | None = None

    # -- reading -------------------------------------------------------------------------------
    def _meta_collection(self) -> Collection:
        if self._meta is None:
            ef = PolicyQAEmbeddingFunction("none", "none", 1)
            self._meta = self.client.get_or_create_collection(META, embedding_function=ef)  # type: ignore[arg-type]
        return self._meta

    def current(self) -> IndexInfo | None:
        """The generation the pointer names, or None when nothing was indexed yet."""
        got = self._meta_collection().get(ids=[POINTER], include=["metadatas"])
        if not got["ids"] or not got["metadatas"]:
            return None
        m = got["metadatas"][0]
        return IndexInfo(str(m["collection"]), str(m["fingerprint"]), str(m["provider"]), str(m["model"]),
                         int(m["dim"]), int(m["count"]), int(m.get("part_size") or 0),  # type: ignore[arg-type]
                         int(m.get("parts") or 0), str(m.get("corpus_sig") or ""))  # type: ignore[arg-type]

    def open_collection(self, info: IndexInfo, ef: PolicyQAEmbeddingFunction | None = None, parts: bool = False) -> Collection:
        """The chunk collection of a generation (or, with parts=True, its sub-passage collection)."""
        name = info.parts_collection if parts else info.collection
        if name is None:
            raise StoreError("The search index has no sub-passage vectors; run `policy-qa ingest --rebuild`.")
        ef = ef or PolicyQAEmbeddingFunction.build_from_config(info.embedding_config)
        try:
            return self.client.get_collection(name, embedding_function=ef)  # type: ignore[arg-type]
        except Exception as exc:
            raise StoreError(f"The search index is damaged (collection {name}: {exc}); run `policy-qa ingest --rebuild`.") from None

    def load_essays(self, info: IndexInfo) -> list[Essay]:
        """The parsed essays saved with a generation."""
        got = self._meta_collection().get(ids=[f"essays:{info.collection}"], include=["documents"])
        if not got["ids"] or not got["documents"]:
            raise StoreError("The search index has no saved essays; run `policy-qa ingest --rebuild`.")
        return [essay_from_dict(d) for d in json.loads(got["documents"][0])]

    @staticmethod
    def load_chunks(collection: Collection, with_embeddings: bool = False) -> tuple[list[Chunk], np.ndarray | None]:
        """Every chunk of a collection (paged), optionally with its vectors."""
        chunks: list[Chunk] = []
        vecs: list[np.ndarray] = []
        include: list[Any] = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        offset = 0
        while True:
            got = collection.get(include=include, limit=_GET_BATCH, offset=offset)
            ids = got["ids"]
            if not ids:
                break
            docs, metas = got["documents"] or [], got["metadatas"] or []
            for cid, doc, meta in zip(ids, docs, metas, strict=True):
                chunks.append(Chunk(id=cid, text=doc, **dict(meta)))  # type: ignore[arg-type]
            if with_embeddings and got["embeddings"] is not None:
                vecs.append(np.asarray(got["embeddings"], dtype=np.float32))
            offset += len(ids)
        return chunks, (np.concatenate(vecs) if vecs else None)

    # -- writing -------------------------------------------------------------------------------
    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Exclusive writer lock; a second writer fails at once instead of waiting or corrupting the store."""
        if datadir.is_read_only(self.settings):
            raise StoreReadOnlyError(datadir.read_only_message(self.settings))
        lock = FileLock(str(datadir.lock_file(self.settings)), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise StoreBusyError(
                "另一个进程正在写入索引，请稍后再试（Another process is writing the index; try again when it finishes）。"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def publish(
        self,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        essays: Sequence[Essay],
        ef: PolicyQAEmbeddingFunction,
        fingerprint: str,
        progress: Callable[[str], None] = lambda _m: None,
        parts: Sequence[tuple[int, str]] = (),
        part_vectors: np.ndarray | None = None,
        part_size: int = 0,
        corpus_sig: str = "",
    ) -> IndexInfo:
        """Fill a new generation (chunks, and sub-passages given as (chunk index, text)), then switch the
        pointer to it; call with write_lock() held."""
        cfg = ef.get_config()
        previous = self.current()
        name = f"{PREFIX}{fingerprint[:16]}_{uuid.uuid4().hex[:8]}"
        metadata = {"embedding_provider": cfg["provider"], "embedding_model": cfg["model"],
                    "embedding_dim": int(cfg["dim"]), "fingerprint": fingerprint, "created": time.time()}
        col = self.client.create_collection(name, embedding_function=ef, metadata=metadata)  # type: ignore[arg-type]
        self._fill(col, [c.id for c in chunks], [c.text for c in chunks], [c.metadata() for c in chunks], vectors,
                   "写入向量库", progress)
        if parts:
            assert part_vectors is not None and len(part_vectors) == len(parts)
            pcol = self.client.create_collection(name + PARTS_SUFFIX, embedding_function=ef,  # type: ignore[arg-type]
                                                 metadata={**metadata, "part_size": part_size})
            owners = [chunks[i] for i, _t in parts]
            self._fill(pcol, part_ids(chunks, parts), [t for _i, t in parts],
                       [{"chunk_id": c.id, "author": c.author, "essay_id": c.essay_id} for c in owners], part_vectors,
                       "写入子段落向量", progress)
        meta = self._meta_collection()
        one = np.ones((1, 1), dtype=np.float32)
        meta.upsert(ids=[f"essays:{name}"], documents=[json.dumps([e.to_dict() for e in essays], ensure_ascii=False)],
                    metadatas=[{"kind": "essays", "collection": name, "published": time.time()}], embeddings=one)
        info = IndexInfo(name, fingerprint, str(cfg["provider"]), str(cfg["model"]), int(cfg["dim"]), len(chunks),
                         part_size if parts else 0, len(parts), corpus_sig)
        self._write_pointer(info)  # the switch
        self._announce(info)
        self._prune(keep={name} | ({previous.collection} if previous else set()))
        return info

    def _announce(self, info: IndexInfo) -> None:
        """Replace index/generation.json atomically, so readers in other processes notice the switch."""
        if self.settings.chroma_url:
            return  # a shared server's readers poll the pointer itself
        path = self.settings.index_dir / GENERATION_FILE
        tmp = path.with_name(f".{GENERATION_FILE}.{uuid.uuid4().hex[:8]}")
        tmp.write_text(json.dumps({"collection": info.collection, "published": time.time()}), encoding="utf-8")
        os.replace(tmp, path)

    def _write_pointer(self, info: IndexInfo) -> None:
        pointer: dict[str, str | int] = {"kind": "pointer", "collection": info.collection,
                                         "fingerprint": info.fingerprint, "provider": info.provider,
                                         "model": info.model, "dim": info.dim, "count": info.count,
                                         "part_size": info.part_size, "parts": info.parts,
                                         "corpus_sig": info.corpus_sig}
        self._meta_collection().upsert(ids=[POINTER], documents=[info.collection], metadatas=[pointer],
                                       embeddings=np.ones((1, 1), dtype=np.float32))

    def record_corpus_signature(self, info: IndexInfo, corpus_sig: str) -> IndexInfo:
        """Note that the generation in use reflects the corpus files as they are now; call with write_lock() held."""
        info = replace(info, corpus_sig=corpus_sig)
        self._write_pointer(info)
        return info

    @staticmethod
    def _fill(col: Collection, ids: list[str], docs: list[str], metas: Sequence[Any], vectors: np.ndarray,
              label: str, progress: Callable[[str], None]) -> None:
        for i in range(0, len(ids), _ADD_BATCH):
            j = i + _ADD_BATCH
            col.add(ids=ids[i:j], documents=docs[i:j], metadatas=list(metas[i:j]), embeddings=vectors[i:j])
            if len(ids) > _ADD_BATCH:
                progress(f"{label} {min(j, len(ids))}/{len(ids)}")

    def _prune(self, keep: set[str]) -> None:
        """Drop generations replaced more than POLICY_QA_KEEP_GENERATIONS_S ago, except the new one and the one it
        replaced; then delete the segment folders Chroma leaves behind on disk."""
        cols = [c for c in self.client.list_collections() if c.name.startswith(PREFIX) and c.name != META]
        # when each generation became current: its publish time (its creation time for older indexes)
        got = self._meta_collection().get(where={"kind": "essays"}, include=["metadatas"])
        published = {str(m.get("collection")): float(m.get("published") or 0.0)  # type: ignore[arg-type]
                     for m in got["metadatas"] or []}
        created = {c.name: published.get(c.name) or float((c.metadata or {}).get("created") or 0.0) for c in cols
                   if not c.name.endswith(PARTS_SUFFIX)}
        order = sorted(created, key=lambda n: created[n])
        # a generation stopped being current when the next one was published
        retired = {n: created[order[i + 1]] for i, n in enumerate(order[:-1])}
        now = time.time()
        for col in cols:
            base = col.name.removesuffix(PARTS_SUFFIX)
            if base in keep or now - retired.get(base, now) < self.settings.keep_generations_s:
                continue
            self.client.delete_collection(col.name)
            self._meta_collection().delete(ids=[f"essays:{col.name}"])
        if not self.settings.chroma_url:  # also folders left by earlier versions
            datadir.sweep_segments(self.settings.index_dir / "chroma")
