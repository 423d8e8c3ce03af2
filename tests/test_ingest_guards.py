"""Ingest of duplicate, oversized, linked and oddly named files: each is handled once, with one line saying why."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from retrieval_fixtures import SEED_PAGE, TINY_ESSAY, settings_for

from rag.index import open_retriever
from rag.ingest import ingest

SECOND = TINY_ESSAY.replace("张三", "李四").replace("绿色工厂建设", "数字车间改造")


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "POLICY_QA_"))}
    env.update({"POLICY_QA_HOME": str(home), "POLICY_QA_EMBEDDINGS": "none", **extra})
    return env


def _cli(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], env=_env(home, **extra), capture_output=True,
                          text=True, timeout=300)


# -- 5: the same file twice ---------------------------------------------------------------------------------------
def test_the_same_file_in_two_folders_is_indexed_once_and_reported(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    for sub in ("a", "b"):
        (corpus / sub).mkdir(parents=True)
        shutil.copy(SEED_PAGE, corpus / sub / "x.txt")
    (corpus / "b" / "other.txt").write_text(TINY_ESSAY, encoding="utf-8")
    done = _cli(tmp_path / "home", "ingest", str(corpus))
    assert done.returncode == 0, done.stderr
    dup = [line for line in done.stderr.splitlines() if "只索引一次" in line]
    assert len(dup) == 1 and "b/x.txt" in dup[0] and "a/x.txt" in dup[0], done.stderr
    ask = _cli(tmp_path / "home", "ask", "什么是产业韧性？", POLICY_QA_CORPUS=str(corpus), POLICY_QA_BACKEND="extractive")
    assert ask.returncode == 0 and "内部错误" not in ask.stderr, ask.stderr
    essays = open_retriever(settings_for(tmp_path / "home", POLICY_QA_EMBEDDINGS="none",
                                         POLICY_QA_CORPUS=str(corpus))).essays
    assert len(essays) == 5  # four seed essays once, plus the other file


def test_a_copy_of_an_indexed_file_from_another_folder_is_skipped(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "home", POLICY_QA_EMBEDDINGS="none", POLICY_QA_CORPUS=str(SEED_PAGE))
    ingest(settings, None, rebuild=False)
    copy = tmp_path / "copies"
    copy.mkdir()
    shutil.copy(SEED_PAGE, copy / SEED_PAGE.name)
    said: list[str] = []
    report = ingest(settings, [copy], rebuild=False, progress=said.append)
    assert len(report.duplicates) == 1 and report.essays == 4
    assert len([m for m in said if "只索引一次" in m]) == 1


def test_different_files_with_the_same_name_get_distinct_essay_ids(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    for sub, text in (("a", TINY_ESSAY), ("b", SECOND)):
        (corpus / sub).mkdir(parents=True)
        (corpus / sub / "notes.txt").write_text(text, encoding="utf-8")
    settings = settings_for(tmp_path / "home", POLICY_QA_EMBEDDINGS="none", POLICY_QA_CORPUS=str(corpus))
    ingest(settings, None, rebuild=False)
    essays = open_retriever(settings).essays
    assert len({e.id for e in essays}) == 2 and {e.author for e in essays} == {"张三", "李四"}


# -- 6: limits ----------------------------------------------------------------------------------------------------
def _docx_bomb(path: Path, inflated_mb: int) -> None:
    """A valid-looking .docx whose document.xml inflates to `inflated_mb` MB (it compresses to almost nothing)."""
    head = ('<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
            'wordprocessingml/2006/main"><w:body>')
    para = "<w:p><w:r><w:t>" + "产业" * 500 + "</w:t></w:r></w:p>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"/>')
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(head.encode())
            block = (para * 300).encode()
            for _ in range(inflated_mb * 1024 * 1024 // len(block) + 1):
                f.write(block)
            f.write(b"</w:body></w:document>")


def test_files_over_a_limit_are_skipped_with_the_setting_named(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(TINY_ESSAY, encoding="utf-8")
    (corpus / "big.txt").write_text("产业韧性。" * (400 * 1024), encoding="utf-8")  # about 6 MB
    _docx_bomb(corpus / "bomb.docx", 30)
    (corpus / "long.txt").write_text("\n\n".join(f"第{i}段：产业链供应链安全稳定是构建新发展格局的基础，"
                                                 "需要补链强链延链。" * 3 for i in range(400)), encoding="utf-8")
    started = time.monotonic()
    done = _cli(tmp_path / "home", "ingest", str(corpus), POLICY_QA_MAX_FILE_MB="5", POLICY_QA_MAX_INFLATED_MB="20",
                POLICY_QA_MAX_CHUNKS_PER_FILE="50")
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    for name, setting in (("big.txt", "POLICY_QA_MAX_FILE_MB"), ("bomb.docx", "POLICY_QA_MAX_INFLATED_MB"),
                          ("long.txt", "POLICY_QA_MAX_CHUNKS_PER_FILE")):
        hits = [line for line in lines if name in line and setting in line]
        assert len(hits) == 1, (name, done.stderr)
    assert "已建立索引：1 篇文章" in done.stdout, done.stdout
    assert seconds < 120  # a guard against a hang, not a timing claim


def test_a_pdf_over_the_page_limit_is_skipped(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(TINY_ESSAY, encoding="utf-8")
    writer = PdfWriter()
    for _ in range(30):
        writer.add_blank_page(200, 200)
    with open(corpus / "pages.pdf", "wb") as f:
        writer.write(f)
    done = _cli(tmp_path / "home", "ingest", str(corpus), POLICY_QA_MAX_PDF_PAGES="10")
    assert done.returncode == 0, done.stderr
    assert len([x for x in done.stderr.splitlines() if "pages.pdf" in x and "POLICY_QA_MAX_PDF_PAGES" in x]) == 1


def test_a_long_read_prints_progress(tmp_path: Path) -> None:
    from rag import corpus as corpus_mod

    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(3):
        (folder / f"e{i}.txt").write_text(TINY_ESSAY.replace("张三", f"作者{i}"), encoding="utf-8")
    said: list[str] = []
    slow = corpus_mod.PROGRESS_EVERY_S
    try:
        corpus_mod.PROGRESS_EVERY_S = 0.0  # every file counts as "a while": the lines themselves are under test
        corpus_mod.load_corpus([folder], progress=said.append)
    finally:
        corpus_mod.PROGRESS_EVERY_S = slow
    assert any("读取语料 3/3" in m for m in said) and any("读取完成" in m for m in said), said


# -- 7: symlinks and control characters ----------------------------------------------------------------------------
def test_a_symlink_leaving_the_corpus_folder_is_skipped(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n机密口令是蓝色海豚。\n", encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(TINY_ESSAY, encoding="utf-8")
    (corpus / "passwd.txt").symlink_to(outside)
    (corpus / "inside.txt").symlink_to(corpus / "good.txt")  # inside the folder: fine (and a duplicate)
    done = _cli(tmp_path / "home", "ingest", str(corpus))
    assert done.returncode == 0, done.stderr
    assert len([x for x in done.stderr.splitlines() if "passwd.txt" in x and "POLICY_QA_FOLLOW_LINKS" in x]) == 1
    search = _cli(tmp_path / "home", "search", "机密口令", "--json", POLICY_QA_CORPUS=str(corpus))
    assert "蓝色海豚" not in search.stdout
    allowed = _cli(tmp_path / "home2", "ingest", str(corpus), POLICY_QA_FOLLOW_LINKS="1")
    assert allowed.returncode == 0 and "POLICY_QA_FOLLOW_LINKS" not in allowed.stderr


def test_control_characters_in_file_names_are_escaped_and_never_in_titles(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    body = "\n\n".join(TINY_ESSAY.split("\n\n")[2:])  # no title line: the title comes from the file name
    (corpus / "evil\nname\x1b[31m.txt").write_text(body, encoding="utf-8")
    (corpus / "bad\nempty.txt").write_text("", encoding="utf-8")
    settings = settings_for(tmp_path / "home", POLICY_QA_EMBEDDINGS="none", POLICY_QA_CORPUS=str(corpus))
    said: list[str] = []
    report = ingest(settings, None, rebuild=False, progress=said.append)
    [essay] = open_retriever(settings).essays
    assert "\n" not in essay.title and "\x1b" not in essay.title and "evil" in essay.title
    assert "\n" not in essay.id
    [skip] = report.errors
    assert "\n" not in skip and "bad\\nempty.txt" in skip
    assert all("\n" not in m for m in said)


# -- 8: exit codes and messages -------------------------------------------------------------------------------------
def test_an_ingest_where_no_file_could_be_read_fails_with_each_reason_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _cli(home, "ingest", str(SEED_PAGE)).returncode == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.pdf").write_bytes(b"this is not a pdf at all\n" * 10)
    (bad / "empty.txt").write_text("", encoding="utf-8")
    done = _cli(home, "ingest", str(bad))
    assert done.returncode != 0
    err = done.stderr
    assert err.count("broken.pdf") == 1 and err.count("empty.txt") == 1, err
    for raw in ("invalid pdf header", "EOF marker not found", "Traceback"):
        assert raw not in err, err
    after = _cli(home, "search", "产业韧性", "--json", POLICY_QA_CORPUS=str(SEED_PAGE))
    assert after.returncode == 0 and "李晓华" in after.stdout  # nothing was lost


@pytest.mark.parametrize("extra", [{}, {"POLICY_QA_MAX_FILE_MB": "1"}])
def test_start_up_never_stalls_on_one_huge_corpus_file(tmp_path: Path, extra: dict[str, str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED_PAGE, corpus / "seed.txt")
    home = tmp_path / "home"
    assert _cli(home, "ingest", POLICY_QA_CORPUS=str(corpus), **extra).returncode == 0
    with open(corpus / "huge.txt", "wb") as f:  # sparse: 30 MB on the size check, nothing to write
        f.truncate(30 * 1024 * 1024)
    started = time.monotonic()
    done = _cli(home, "ask", "什么是产业韧性？", POLICY_QA_CORPUS=str(corpus), POLICY_QA_BACKEND="extractive", **extra)
    assert done.returncode == 0, done.stderr
    assert len([x for x in done.stderr.splitlines() if "huge.txt" in x and "POLICY_QA_MAX_FILE_MB" in x]) == 1
    assert time.monotonic() - started < 120  # a guard against a hang, not a timing claim
