"""tiktoken works offline from the bpe-openai files, for both encodings."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from rag.tokens import ENCODINGS, cache_key, count_tokens, get_encoding, install_encodings

PARAGRAPH = "新型工业化的高质量发展，突出反映在作为物质技术重要载体的产业体系上。"


def test_cache_file_names_are_the_sha1_of_the_download_url() -> None:
    assert cache_key("cl100k_base") == "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"
    assert cache_key("o200k_base") == "fb374d419588a4632f3f557e76b4b70aebbca790"


def test_install_writes_both_encodings(tmp_path: Path) -> None:
    target = install_encodings(tmp_path)
    for name in ENCODINGS:
        f = target / cache_key(name)
        assert f.stat().st_size > 1_000_000
    # tiktoken verifies these hashes when it reads the cache; check the files are the official ones
    assert hashlib.sha256((target / cache_key("cl100k_base")).read_bytes()).hexdigest() == (
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
    )


@pytest.mark.parametrize("name", ENCODINGS)
def test_both_encodings_round_trip_chinese(name: str) -> None:
    enc = get_encoding(name)
    assert enc.decode(enc.encode(PARAGRAPH)) == PARAGRAPH
    assert count_tokens(PARAGRAPH, name) == len(enc.encode(PARAGRAPH))


def test_o200k_is_denser_than_cl100k_for_chinese() -> None:
    assert 0 < count_tokens(PARAGRAPH, "o200k_base") < count_tokens(PARAGRAPH, "cl100k_base")


def test_special_token_text_is_counted_not_rejected() -> None:
    assert count_tokens("<|endoftext|>") > 1


def test_unknown_encoding_is_a_config_error() -> None:
    from rag.errors import ConfigError

    with pytest.raises(ConfigError):
        get_encoding("p50k_base")


def test_fresh_process_loads_offline_with_an_empty_cache(tmp_path: Path) -> None:
    """A new process with an empty home and a blocked network still gets both encodings."""
    code = (
        "import sys\n"
        "def refuse(event, args):\n"
        "    if event in ('socket.connect', 'socket.getaddrinfo'):\n"
        "        raise OSError('network disabled in this test')\n"
        "sys.addaudithook(refuse)\n"
        "from rag.tokens import count_tokens\n"
        "print(count_tokens('中文', 'cl100k_base'), count_tokens('中文', 'o200k_base'))\n"
    )
    env = {"POLICY_QA_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    a, b = map(int, out.stdout.split())
    assert a >= 1 and b >= 1
    assert (tmp_path / "home" / "cache" / "tiktoken" / cache_key("o200k_base")).is_file()
