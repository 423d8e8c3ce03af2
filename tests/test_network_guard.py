"""Nothing reaches the network: ingest and search run under an audit hook that blocks non-loopback connects."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from retrieval_fixtures import SEED_PAGE, network_guard, probe_outside_connect, settings_for, warm_home

from rag.config import Settings
from rag.index import open_retriever
from rag.ingest import ingest

pytest_plugins = ["retrieval_fixtures"]


def test_the_guard_blocks_and_records_an_outside_connect() -> None:
    with network_guard() as attempts, pytest.raises(ConnectionRefusedError, match="network guard"):
        probe_outside_connect()
    assert attempts and attempts[0][1] == ("192.0.2.1", 80)


def test_the_guard_blocks_outside_name_lookups() -> None:
    with network_guard() as attempts, pytest.raises(ConnectionRefusedError):
        socket.getaddrinfo("example.com", 443)
    assert attempts


def test_the_guard_lets_loopback_through() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        with network_guard() as attempts, socket.create_connection(server.getsockname(), timeout=2):
            pass
        assert attempts == []
    finally:
        server.close()


def test_ingest_and_search_stay_offline(tmp_path: Path, seed_settings: Settings, no_network: list) -> None:
    settings = settings_for(warm_home(tmp_path / "home", seed_settings), POLICY_QA_CORPUS=str(SEED_PAGE))
    report = ingest(settings, None, rebuild=False)
    assert report.chunks > 0 and not report.errors
    r = open_retriever(settings)
    for mode in ("hybrid", "dense", "lexical"):
        hits = r.search("中小银行应该怎么监管？", mode=mode, author="王静")
        assert hits
        r.relevance("中小银行应该怎么监管？", hits)
    ingest(settings, None, rebuild=True)


def test_first_use_build_stays_offline(tmp_path: Path, tiny_corpus: Path, no_network: list) -> None:
    settings = settings_for(tmp_path / "home", POLICY_QA_CORPUS=str(tiny_corpus))
    assert open_retriever(settings).search("能耗在线监测")
