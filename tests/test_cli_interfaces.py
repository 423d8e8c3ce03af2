"""The command line and /chat at their edges: bad batch lines, unknown essays, closed pipes, what is indexed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from retrieval_fixtures import SEED_PAGE, TINY_ESSAY

pytestmark = pytest.mark.slow


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "POLICY_QA_"))}
    env.update({"POLICY_QA_HOME": str(home), "POLICY_QA_EMBEDDINGS": "none", "POLICY_QA_CORPUS": str(SEED_PAGE),
                "POLICY_QA_BACKEND": "extractive", **extra})
    return env


def _cli(home: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], env=_env(home), input=stdin, capture_output=True,
                          timeout=300)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    h = tmp_path_factory.mktemp("cli") / "home"
    assert _cli(h, "ingest").returncode == 0
    return h


BAD_LINES = [
    b"\xff\xfe not utf-8 \xc3\x28",
    b'{"question": "\\ud800 \xe4\xba\xa7\xe4\xb8\x9a"}',
    b'{"question": 5}',
    b"[" * 100000 + b"]" * 100000,
    b'{"question": "x", "essay": ["a"]}',
]


@pytest.mark.parametrize("command", ["ask", "search"])
def test_a_bad_batch_line_gets_an_error_object_and_the_batch_goes_on(home: Path, command: str) -> None:
    lines = [b"\xe4\xbb\x80\xe4\xb9\x88\xe6\x98\xaf\xe4\xba\xa7\xe4\xb8\x9a\xe9\x9f\xa7\xe6\x80\xa7"]  # 什么是产业韧性
    lines += [b"{" + b[1:] if b.startswith(b"[") else b for b in BAD_LINES[:3]]
    lines += [b'{"x": ' * 50000 + b"1" + b"}" * 50000, BAD_LINES[4], "产业基础高级化".encode()]
    done = _cli(home, command, "-", "--json", stdin=b"\n".join(lines) + b"\n")
    assert done.returncode == 1, done.stderr.decode(errors="replace")
    out = [json.loads(x) for x in done.stdout.decode().splitlines()]
    errors = [o for o in out if "line" in o]
    assert [o["line"] for o in errors] == [2, 3, 4, 5, 6], out
    assert len(out) == 7 and "line" not in out[0] and "line" not in out[-1] and all(o["error"] for o in errors)
    assert "内部错误" not in done.stderr.decode(errors="replace")


def test_a_batch_without_bad_lines_exits_zero(home: Path) -> None:
    done = _cli(home, "search", "-", "--json", stdin="什么是产业韧性\n产业基础高级化\n".encode())
    assert done.returncode == 0 and len(done.stdout.decode().splitlines()) == 2


@pytest.mark.parametrize("command", ["ask", "search"])
def test_an_unknown_essay_is_an_error_listing_the_essays(home: Path, command: str) -> None:
    done = _cli(home, command, "产业韧性是什么", "--essay", "zzz")
    err = done.stderr.decode()
    assert done.returncode == 1 and "zzz" in err and "没有找到文章" in err
    assert "把握高质量发展要求推进新型工业化" in err and "全面提升产业体系现代化水平" in err
    assert not done.stdout.strip()


def test_a_closed_pipe_ends_quietly(home: Path) -> None:
    env = _env(home)
    producer = subprocess.Popen([sys.executable, "-m", "rag.cli", "ask", "-"], env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-2"], stdin=producer.stdout, stdout=subprocess.PIPE)
    assert producer.stdout is not None and producer.stdin is not None
    producer.stdout.close()  # only head reads it now
    producer.stdin.write("\n".join(["新型工业化的高质量发展有哪些特征？"] * 20).encode() + b"\n")
    producer.stdin.close()
    head.communicate(timeout=300)
    assert producer.stderr is not None
    err = producer.stderr.read()
    producer.wait(timeout=300)
    assert "BrokenPipe" not in err.decode() and "内部错误" not in err.decode() and "Exception ignored" not in err.decode()


def test_corpus_lists_what_is_indexed_with_its_source(home: Path, tmp_path: Path) -> None:
    docs = tmp_path / "mydocs"
    docs.mkdir()
    (docs / "green.txt").write_text(TINY_ESSAY, encoding="utf-8")
    assert _cli(home, "ingest", str(docs)).returncode == 0
    listed = _cli(home, "corpus").stdout.decode()
    assert "《绿色工厂建设的几点思考》" in listed and str(docs / "green.txt") in listed
    assert "《把握高质量发展要求推进新型工业化》" in listed
    parsed = _cli(home, "corpus", "--source").stdout.decode()
    assert "绿色工厂建设" not in parsed and "《把握高质量发展要求推进新型工业化》" in parsed
    as_json = json.loads(_cli(home, "corpus", "--json").stdout)
    assert len(as_json) == 5


# -- 13: /chat with values the page never sends ---------------------------------------------------------------------
@pytest.mark.parametrize("args", [(5,), ({"q": 1},), ("\ud800 产业",), ("产业韧性", ["e1"]), ("产业韧性", "", 7),
                                  ("产业韧性", "", "", "not a list"), ("产业韧性", "", "", [{"role": "user",
                                                                                          "content": "\udfff"}])])
def test_chat_api_rejects_bad_fields_with_an_input_error(args: tuple[object, ...]) -> None:
    from ui_fakes import FakeAssistant

    from ui.app import ChatPage, Gate

    page = ChatPage(FakeAssistant(), Gate())
    out = page.api_chat(*args)  # type: ignore[arg-type]
    result = asyncio.run(out) if asyncio.iscoroutine(out) else out
    assert result.get("input_error") is True and "字段" in result["error"], result
    json.dumps(result, ensure_ascii=False).encode("utf-8")  # the reply itself is valid JSON text
