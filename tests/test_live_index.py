"""A running reader keeps answering through rebuilds and ingests made by other processes, and follows them."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from retrieval_fixtures import SEED_PAGE, TINY_ESSAY, settings_for, warm_home

from rag.config import Settings
from rag.index import open_retriever
from rag.ingest import ingest
from rag.store import Store

pytestmark = pytest.mark.slow
NEW_ESSAY = TINY_ESSAY.replace("张三", "赵六").replace("绿色工厂建设", "海上风电运维").replace("绿色工厂", "海上风电场")
NEW_QUESTION = "海上风电场如何建立废旧物资回收体系？"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "POLICY_QA_"))}
    env.update({"POLICY_QA_HOME": str(home), **extra})
    return env


def _cli(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """The real command line in another process, as a person would run it next to a running server."""
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], env=_env(home, **extra), capture_output=True,
                          text=True, timeout=300)


def _lexical(home: Path, corpus: Path, **env: str) -> Settings:
    return settings_for(home, POLICY_QA_EMBEDDINGS="none", POLICY_QA_CORPUS=str(corpus), **env)


def test_a_reader_answers_through_rebuilds_by_another_process(tmp_path: Path) -> None:
    from rag.live import LiveAssistant

    home = tmp_path / "home"
    settings = _lexical(home, SEED_PAGE)
    live = LiveAssistant.from_settings(settings, backend="extractive")
    pinned = Store(settings).current()  # a reader that never switches: its generation must not vanish under it
    assert pinned is not None
    seen = {live.generation}
    for _ in range(3):
        done = _cli(home, "ingest", "--rebuild", POLICY_QA_EMBEDDINGS="none", POLICY_QA_CORPUS=str(SEED_PAGE))
        assert done.returncode == 0, done.stderr
        answer = live.ask("什么是产业韧性？")
        assert answer.citations and not answer.error, answer
        assert live.generation == Store(settings).current().collection  # type: ignore[union-attr]
        seen.add(live.generation)
        # the generation it opened is kept for POLICY_QA_KEEP_GENERATIONS_S
        assert Store(settings).open_collection(pinned).count() > 0
    assert len(seen) == 4 and live.index.reloads == 3


def test_a_new_ingest_is_answered_and_shown_without_restart(tmp_path: Path) -> None:
    from rag.live import LiveAssistant
    from ui.app import ChatPage, Gate

    home = tmp_path / "home"
    settings = _lexical(home, SEED_PAGE)
    live = LiveAssistant.from_settings(settings, backend="extractive")
    page = ChatPage(live, Gate())
    drawn = page.generation()
    assert len(live.essays) == 4
    assert all(c.chunk.author != "赵六" for c in live.ask(NEW_QUESTION).citations)
    docs = tmp_path / "mydocs"
    docs.mkdir()
    (docs / "wind.txt").write_text(NEW_ESSAY, encoding="utf-8")
    done = _cli(home, "ingest", str(docs), POLICY_QA_EMBEDDINGS="none", POLICY_QA_CORPUS=str(SEED_PAGE))
    assert done.returncode == 0, done.stderr
    answer = live.ask(NEW_QUESTION)
    assert not answer.refused and any(c.chunk.author == "赵六" for c in answer.citations), answer.answer
    generation, brand, essays, authors = page.refresh_corpus(drawn)
    assert generation == live.generation != drawn
    assert "5 篇" in brand
    assert ("赵六", "赵六") in authors.choices and any("海上风电运维" in label for label, _v in essays.choices)
    assert all(x == {"__type__": "update"} for x in page.refresh_corpus(generation))  # unchanged: nothing redrawn


def test_replaced_generations_and_their_segment_folders_are_removed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "green.txt").write_text(TINY_ESSAY, encoding="utf-8")
    settings = _lexical(tmp_path / "home", corpus, POLICY_QA_KEEP_GENERATIONS_S="0")
    for _ in range(6):
        ingest(settings, None, rebuild=True)
    store = Store(settings)
    names = sorted(c.name for c in store.client.list_collections())
    # the meta collection, plus the current generation and the one it replaced (lexical: no sub-passage collections)
    assert len(names) == 3, names
    chroma = settings.index_dir / "chroma"
    folders = [d for d in chroma.iterdir() if d.is_dir() and _UUID.match(d.name)]
    assert len(folders) <= len(names), (len(folders), names)
    current = store.current()
    assert current is not None and open_retriever(settings).search("绿色工厂", k=1)


def test_generations_are_kept_for_the_grace_period(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "green.txt").write_text(TINY_ESSAY, encoding="utf-8")
    settings = _lexical(tmp_path / "home", corpus)  # default POLICY_QA_KEEP_GENERATIONS_S=600
    ingest(settings, None, rebuild=False)
    first = Store(settings).current()
    assert first is not None
    for _ in range(3):
        ingest(settings, None, rebuild=True)
    col = Store(settings).open_collection(first)
    assert "张三" in str(col.get(limit=1, include=["metadatas"])["metadatas"])


# -- one real `policy-qa serve` process through three rebuilds and an ingest ---------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _chat(base: str, question: str) -> dict[str, Any]:
    body = json.dumps({"data": [question, "", "", []]}).encode()
    req = urllib.request.Request(f"{base}/gradio_api/call/chat", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback only
        event_id = json.loads(resp.read())["event_id"]
    with urllib.request.urlopen(f"{base}/gradio_api/call/chat/{event_id}", timeout=120) as resp:  # noqa: S310
        lines = [x for x in resp.read().decode().splitlines() if x.startswith("data:")]
    return dict(json.loads(lines[-1].removeprefix("data:"))[0])


def test_one_serve_process_through_three_rebuilds_and_a_new_folder(tmp_path: Path, seed_settings: Settings) -> None:
    home = warm_home(tmp_path / "home", seed_settings)
    env = {"POLICY_QA_CORPUS": str(SEED_PAGE), "POLICY_QA_BACKEND": "extractive"}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port)], env=_env(home, **env),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                urllib.request.urlopen(base + "/gradio_api/info", timeout=2).read()  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("serve did not start")
        first = _chat(base, "什么是产业韧性？")
        assert first.get("citations"), first
        for n in range(3):
            done = _cli(home, "ingest", "--rebuild", **env)
            assert done.returncode == 0, done.stderr
            answer = _chat(base, "什么是产业韧性？")
            assert answer.get("citations") and not answer.get("error"), (n, answer)
        assert all(c["author"] != "赵六" for c in _chat(base, NEW_QUESTION).get("citations", []))
        docs = tmp_path / "mydocs"
        docs.mkdir()
        (docs / "wind.txt").write_text(NEW_ESSAY, encoding="utf-8")
        done = _cli(home, "ingest", str(docs), **env)
        assert done.returncode == 0, done.stderr
        answer = _chat(base, NEW_QUESTION)
        assert not answer.get("refused") and any(c["author"] == "赵六" for c in answer["citations"]), answer
        assert server.poll() is None
    finally:
        server.terminate()
        server.wait(30)
