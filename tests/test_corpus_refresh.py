"""A changed corpus folder is re-indexed when the index is next opened; other indexes are left alone."""

from __future__ import annotations

import os
from pathlib import Path

from retrieval_fixtures import TINY_ESSAY, settings_for

from rag.config import Settings
from rag.index import open_retriever
from rag.ingest import ingest
from rag.store import Store

pytest_plugins = ["retrieval_fixtures"]

SECOND_ESSAY = TINY_ESSAY.replace("张三", "李四").replace("绿色工厂建设", "数字车间改造")


def lexical(home: Path, corpus: Path) -> Settings:
    return settings_for(home, POLICY_QA_EMBEDDINGS="none", POLICY_QA_CORPUS=str(corpus))


def touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # a later mtime even on coarse clocks


def test_an_edited_file_is_reindexed_once_on_the_next_open(tmp_path: Path, tiny_corpus: Path) -> None:
    settings = lexical(tmp_path / "home", tiny_corpus)
    open_retriever(settings)
    essay = tiny_corpus / "green.txt"
    essay.write_text(TINY_ESSAY + "\n氢能重卡示范线已经投入运行，年减排二氧化碳一万吨。\n", encoding="utf-8")
    touch_later(essay)
    said: list[str] = []
    r = open_retriever(settings, progress=said.append)
    assert any("语料文件有改动" in m for m in said), said
    assert "氢能重卡示范线" in r.search("氢能重卡示范线", k=1)[0].chunk.text
    again: list[str] = []
    open_retriever(settings, progress=again.append)
    assert again == []  # recorded: the unchanged folder is not parsed again


def test_added_and_deleted_files_follow_the_folder(tmp_path: Path, tiny_corpus: Path) -> None:
    settings = lexical(tmp_path / "home", tiny_corpus)
    assert {e.author for e in open_retriever(settings).essays} == {"张三"}
    (tiny_corpus / "digital.txt").write_text(SECOND_ESSAY, encoding="utf-8")
    assert {e.author for e in open_retriever(settings).essays} == {"张三", "李四"}
    (tiny_corpus / "green.txt").unlink()
    r = open_retriever(settings)
    assert {e.author for e in r.essays} == {"李四"} and {c.author for c in r.chunks} == {"李四"}


def test_an_index_of_other_files_is_not_mixed_with_the_corpus(tmp_path: Path, tiny_corpus: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "digital.txt").write_text(SECOND_ESSAY, encoding="utf-8")
    settings = lexical(tmp_path / "home", tiny_corpus)
    ingest(settings, [other], rebuild=True)
    said: list[str] = []
    assert {e.author for e in open_retriever(settings, progress=said.append).essays} == {"李四"}
    assert said == []
    # adding the corpus later records it, and later edits to it are picked up
    ingest(settings, None, rebuild=False)
    assert Store(settings).current().corpus_sig  # type: ignore[union-attr]
    (tiny_corpus / "green.txt").unlink()
    assert {e.author for e in open_retriever(settings).essays} == {"李四"}


def test_a_corpus_emptied_by_mistake_keeps_the_index_serving(tmp_path: Path, tiny_corpus: Path) -> None:
    settings = lexical(tmp_path / "home", tiny_corpus)
    open_retriever(settings)
    (tiny_corpus / "green.txt").unlink()
    said: list[str] = []
    r = open_retriever(settings, progress=said.append)
    assert any("继续使用现有索引" in m for m in said), said
    assert {e.author for e in r.essays} == {"张三"}
