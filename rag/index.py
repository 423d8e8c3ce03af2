"""Opening the index as a Retriever: built from the corpus when empty, rebuilt when it was made with another
embedding model or sub-passage size, re-read when the corpus folder changed, recovered when damaged.

    from rag.config import Settings
    from rag.index import open_index, open_retriever
    r = open_retriever(Settings.from_env(), progress=print)   # builds the index on first use
    r, info = open_index(Settings.from_env())                 # also the generation it opened

Searching is rag/retrieve.py's; building a generation is rag/ingest.py's.
"""

from __future__ import annotations

from collections.abc import Callable

from rag import datadir
from rag.config import Settings
from rag.embeddings import Embedder, PolicyQAEmbeddingFunction, embedder_config, make_embedder
from rag.errors import (
    ConfigError,
    InputError,
    StoreBusyError,
    StoreDamagedError,
    StoreError,
    StoreReadOnlyError,
)
from rag.ingest import build_index, effective_part_size, ingest, refresh_if_corpus_changed
from rag.lexical import LexicalIndex
from rag.retrieve import Retriever
from rag.store import IndexInfo, Store, reset_persistent_store

Progress = Callable[[str], None]


def open_retriever(settings: Settings, progress: Progress | None = None) -> Retriever:
    """Open the index, building it from settings.corpus when empty, damaged or made with another embedding model."""
    return open_index(settings, progress)[0]


def open_index(settings: Settings, progress: Progress | None = None) -> tuple[Retriever, IndexInfo]:
    """open_retriever, also returning the generation it opened (what rag.live follows)."""
    say = progress or (lambda _m: None)
    try:
        return _open_index(settings, say)
    except (StoreBusyError, StoreReadOnlyError, ConfigError, InputError):
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - Chroma's Rust core panics with a BaseException on damaged files
        # the embedded store is derived data: rebuild it rather than fail
        if settings.chroma_url:
            raise StoreError(f"Chroma 服务器上的索引无法读取（{type(exc).__name__}: {exc}）；"
                             "请运行 `policy-qa ingest --rebuild`。") from None
        if datadir.is_read_only(settings):  # a readable index on a read-only mount is never moved aside
            raise StoreError(f"只读数据文件夹中的索引无法读取（{type(exc).__name__}）；"
                             f"{datadir.read_only_message(settings)}") from None
        if isinstance(exc, OSError):  # a file-system problem, not damage: say which path, move nothing
            raise StoreError(f"无法访问 {datadir.shown(exc.filename or settings.index_dir)}：{exc.strerror}") from None
        why = str(exc) if isinstance(exc, StoreDamagedError) else f"索引已损坏或无法读取（{type(exc).__name__}）"
        moved = reset_persistent_store(settings)
        say(f"{why}；已移到 {datadir.shown(moved)}，正在从语料重建……")
        return _open_index(settings, say)


def _open_index(settings: Settings, say: Progress) -> tuple[Retriever, IndexInfo]:
    store = Store(settings)
    embedder = make_embedder(settings)
    wanted = embedder_config(embedder)
    info = store.current()
    if info is None:
        say("索引为空，正在从语料建立索引（首次使用）……")
        ingest(settings, None, rebuild=False, progress=say)
        info = store.current()
    elif info.embedding_config != wanted:
        say(f"索引由嵌入模型 {info.model}（{info.dim} 维）建立，当前设置为 {wanted['model']}（{wanted['dim']} 维）："
            "不混用向量，正在用当前模型重建……")
        info, _report = build_index(settings, store.load_essays(info), store, embedder, force=True, progress=say,
                                    corpus_sig=info.corpus_sig)
    elif info.part_size != effective_part_size(settings, embedder):
        say(f"索引的子段落设置（{info.part_size}）与当前设置（POLICY_QA_PART_SIZE={settings.part_size}）不同，正在重建……")
        info, _report = build_index(settings, store.load_essays(info), store, embedder, force=True, progress=say,
                                    corpus_sig=info.corpus_sig)
    if info is not None:
        info = refresh_if_corpus_changed(settings, info, say)
    if info is None:
        raise StoreError("索引建立失败（the index is still empty）；请运行 `policy-qa ingest --rebuild`。")
    return open_generation(settings, store, embedder, info), info


def open_generation(settings: Settings, store: Store, embedder: Embedder | None, info: IndexInfo) -> Retriever:
    """The Retriever over one published generation, as it is (nothing is built or refreshed)."""
    ef = PolicyQAEmbeddingFunction.for_embedder(embedder)
    collection = store.open_collection(info, ef)
    parts = store.open_collection(info, ef, parts=True) if info.parts and embedder is not None else None
    chunks, _vectors = store.load_chunks(collection)
    essays = store.load_essays(info)
    order = {e.id: n for n, e in enumerate(essays)}
    chunks.sort(key=lambda c: (order.get(c.essay_id, len(order)), c.char_start))
    return Retriever(
        chunks=chunks,
        essays=essays,
        collection=collection if embedder is not None else None,
        embedder=embedder,
        lexical=LexicalIndex([c.text for c in chunks], counted=[not c.is_byline for c in chunks]),
        top_k=settings.top_k,
        parts=parts,
        part_size=info.part_size,
    )
