"""The same retrieval tests against a real `chroma run` server on 127.0.0.1 (POLICY_QA_CHROMA_URL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from retrieval_fixtures import SEED_PAGE, settings_for, warm_home

# Collected again here, with the fixtures below pointing them at the server.
from test_retrieve import (  # noqa: F401
    test_author_filter,
    test_essay_filter_by_title_or_id,
    test_essays_and_chunks_are_loaded,
    test_every_mode_ranks_and_reports_its_evidence,
    test_filters_that_match_nothing_give_no_hits,
    test_paraphrased_questions_find_the_passage_first,
    test_relevance_separates_covered_from_uncovered,
    test_reopen_gives_the_same_ranking,
)

from rag.config import Settings
from rag.index import open_retriever
from rag.ingest import ingest
from rag.retrieve import Retriever
from rag.store import Store

pytest_plugins = ["retrieval_fixtures"]
pytestmark = pytest.mark.slow

CHROMA = Path(sys.executable).with_name("chroma")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `chroma run` subprocess on a free loopback port, stopped after the module."""
    if not CHROMA.exists():
        pytest.skip("the chroma command is not installed next to this Python")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "CHROMA_TELEMETRY": "False"}
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chroma run did not start (exit code {proc.poll()})")
            time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# Overrides of the session fixtures, so the tests imported above run against the server.
@pytest.fixture(scope="module")
def seed_settings(seed_settings: Settings, chroma_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings pointing at the server, with the session's embedding cache copied in (no re-embedding)."""
    home = warm_home(tmp_path_factory.mktemp("server-home"), seed_settings)
    settings = settings_for(home, POLICY_QA_CHROMA_URL=chroma_url, POLICY_QA_CORPUS=str(SEED_PAGE))
    ingest(settings, None, rebuild=False)
    return settings


@pytest.fixture(scope="module")
def seed_retriever(seed_settings: Settings) -> Retriever:
    return open_retriever(seed_settings)


def test_the_index_lives_on_the_server(seed_settings: Settings, seed_retriever: Retriever) -> None:
    store = Store(seed_settings)
    info = store.current()
    assert info is not None and info.count == len(seed_retriever.chunks)
    assert not (seed_settings.index_dir / "chroma").exists()  # nothing persisted locally


def test_reingest_against_the_server_is_a_no_op(seed_settings: Settings) -> None:
    assert ingest(seed_settings, None, rebuild=False).unchanged


def test_rebuild_on_the_server_switches_atomically(seed_settings: Settings) -> None:
    before = Store(seed_settings).current()
    report = ingest(seed_settings, None, rebuild=True)
    after = Store(seed_settings).current()
    assert before is not None and after is not None
    assert after.collection == report.collection != before.collection and after.count == before.count
    assert open_retriever(seed_settings).search("中小银行应该怎么监管？")


def test_unreachable_server_is_a_clear_store_error(tmp_path: Path) -> None:
    from rag.errors import StoreError

    settings = settings_for(tmp_path, POLICY_QA_CHROMA_URL=f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(StoreError, match="POLICY_QA_CHROMA_URL"):
        Store(settings).current()
