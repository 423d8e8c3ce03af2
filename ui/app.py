"""The browser page: a streaming, cited chat over the essays, served by Gradio on 127.0.0.1.

    policy-qa serve                       # http://127.0.0.1:7860
    POLICY_QA_AUTH=user:pass policy-qa serve --host 0.0.0.0

The page only calls the Assistant API (the same one the CLI and the eval runner use); everything shown is built by
`ui.render`. From Python, the `/chat` endpoint answers one question:

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/")
    print(client.predict("什么是产业韧性？", api_name="/chat")["answer"])
    history = [{"role": "user", "content": "新型工业化高质量发展有哪些特征？"},
               {"role": "assistant", "content": "<the previous answer>"}]
    print(client.predict("其中第四个特征是什么意思？", "", "", history, api_name="/chat")["answer"])
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import gradio as gr

from rag.config import Settings
from rag.errors import ConfigError, InputError, LLMError, PolicyQAError
from rag.types import Answer, Delta, Essay, Turn
from ui import render
from ui.render import Exchange

log = logging.getLogger(__name__)

# Admission control (defaults of POLICY_QA_MAX_RUNNING / POLICY_QA_MAX_WAITING). Four answers run at once (the
# offline backend is CPU-bound on 2 cores, an endpoint backend waits on the network); sixteen more may wait for
# a slot. Twenty concurrent sessions are therefore served without refusals (evals/load_ui.py), and request
# twenty-one gets the busy message at once instead of piling up.
RUNNING = 4
WAITING = 16
MAX_WAIT_S = 30.0
# Gradio's own queue is the outer bound for every event (chat, export, clear); beyond it Gradio answers "queue full".
QUEUE_MAX = 64
BUSY_MESSAGE = "服务繁忙：同时提问的人太多，请稍后再试。"
INTERNAL_ERROR = "出了点问题，这个问题没有回答成功；请换个问法或稍后再试。"
MAX_FILE_SIZE = "1mb"
WARM_UP_QUESTION = "产业韧性是什么？"
# Streaming sends one update per yield; coalescing deltas keeps twenty sessions from flooding the event stream.
STREAM_EVERY_S = 0.05

CJK_FONTS = ["system-ui", "-apple-system", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei",
             "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Noto Sans Mono CJK SC", "monospace"]

EXAMPLES = [
    ("定义", "什么是产业韧性？"),
    ("列举", "新型工业化的高质量发展有哪些特征？"),
    ("比较", "王静和王成仁对产业链供应链安全的看法有什么异同？"),
    ("概括", "概括傅晋华文章的主要观点。"),
]


class ChatAssistant(Protocol):
    """What the page needs from `rag.answer.Assistant`."""

    @property
    def essays(self) -> list[Essay]: ...

    def stream(self, question: str, history: Sequence[Turn] = (), author: str | None = None,
               essay: str | None = None) -> Iterator[Delta | Answer]: ...


class Gate:
    """At most `running` answers at once and `waiting` more in line; anyone beyond that is told the service is busy."""

    def __init__(self, running: int = RUNNING, waiting: int = WAITING, max_wait_s: float = MAX_WAIT_S) -> None:
        self._slots = threading.BoundedSemaphore(running)
        self._lock = threading.Lock()
        self._inside = 0
        self.capacity = running + waiting
        self.max_wait_s = max_wait_s

    @classmethod
    def for_settings(cls, settings: Settings) -> Gate:
        """The gate sized by POLICY_QA_MAX_RUNNING and POLICY_QA_MAX_WAITING."""
        return cls(settings.max_running, settings.max_waiting)

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Yield True while holding a running slot, False when the line is full or the wait ran out."""
        with self._lock:
            if self._inside >= self.capacity:
                admitted = False
            else:
                self._inside += 1
                admitted = True
        if not admitted:
            yield False
            return
        try:
            got = self._slots.acquire(timeout=self.max_wait_s)
            try:
                yield got
            finally:
                if got:
                    self._slots.release()
        finally:
            with self._lock:
                self._inside -= 1


@dataclass
class Session:
    """Per-browser-session state: the exchanges so far and the file the export button points at."""

    exchanges: list[Exchange] = field(default_factory=list)
    export_path: str | None = None

    def history(self) -> list[Turn]:
        """The answered turns, as the Assistant expects them."""
        turns: list[Turn] = []
        for ex in self.exchanges:
            if ex.answer is not None and not ex.answer.error:
                turns += [Turn("user", ex.question), Turn("assistant", ex.answer.answer)]
        return turns


def user_message(exc: BaseException) -> str:
    """A readable Chinese sentence for the chat; product errors already carry one, anything else is hidden."""
    if isinstance(exc, PolicyQAError):
        return str(exc) or INTERNAL_ERROR
    return INTERNAL_ERROR


def _message(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def _filter(value: str | None) -> str | None:
    return value or None


class ChatPage:
    """The event handlers of one app; holds the assistant, the admission gate and the export folder."""

    def __init__(self, assistant: ChatAssistant, gate: Gate) -> None:
        self.assistant = assistant
        self.gate = gate
        self.export_dir = Path(tempfile.mkdtemp(prefix="policy-qa-export-"))

    def respond(self, question: str, chat: list[dict[str, Any]], session: Session | None, essay: str | None,
                author: str | None) -> Iterator[tuple[Any, ...]]:
        """Stream one answer into the chat, then fill the sources panel, status line and export file."""
        session = session or Session()
        question = (question or "").strip()
        chat = list(chat or [])
        if not question:
            yield gr.skip(), list(chat), gr.skip(), gr.skip(), session, gr.skip()
            return
        key = f"a{len(session.exchanges) + 1}-{hashlib.sha1(question.encode()).hexdigest()[:6]}"
        chat.append(_message("user", render.escape_text(question)))
        chat.append(_message("assistant", render.thinking_html()))
        yield "", list(chat), gr.skip(), gr.skip(), session, gr.skip()

        text = ""
        final: Answer | None = None
        with self.gate.slot() as admitted:
            if not admitted:
                chat[-1] = _message("assistant", render.error_html(BUSY_MESSAGE))
                session.exchanges.append(Exchange(question, error=BUSY_MESSAGE))
                yield gr.skip(), list(chat), gr.skip(), gr.skip(), session, self._export(session)
                return
            last = 0.0
            try:
                for event in self.assistant.stream(question, history=session.history(),
                                                   author=_filter(author), essay=_filter(essay)):
                    if isinstance(event, Delta):
                        if event.stage and not text:  # sources chosen, the model is asked: say so at once
                            chat[-1] = _message("assistant", render.thinking_html(event.stage))
                            yield gr.skip(), list(chat), gr.skip(), gr.skip(), session, gr.skip()
                        text += event.text
                        if not text:
                            continue
                        now = time.monotonic()
                        if now - last >= STREAM_EVERY_S:
                            last = now
                            chat[-1] = _message("assistant", render.streaming_html(text))
                            yield gr.skip(), list(chat), gr.skip(), gr.skip(), session, gr.skip()
                    else:
                        final = event
            except Exception as exc:  # every failure becomes a chat message; the page keeps working
                if not isinstance(exc, PolicyQAError):
                    log.exception("answering failed")
                message = user_message(exc)
                partial = exc.partial if isinstance(exc, LLMError) and exc.partial else text
                chat[-1] = _message("assistant", render.error_html(message, partial))
                session.exchanges.append(Exchange(question, error=message, partial=partial))
                yield gr.skip(), list(chat), gr.skip(), gr.skip(), session, self._export(session)
                return
        if final is None:
            final = Answer(question=question, standalone_question=question, answer=text, refused=False,
                           citations=[], retrieved=[], backend="", model="", error=INTERNAL_ERROR)
        scope = render.scope_label(self.assistant.essays, _filter(essay), _filter(author))
        chat[-1] = _message("assistant", render.answer_html(final, key, scope))
        session.exchanges.append(Exchange(question, answer=final))
        yield (gr.skip(), list(chat), render.sources_panel_html(final, key), render.status_html(final), session,
               self._export(session))

    def _export(self, session: Session) -> Any:
        markdown = render.conversation_markdown(session.exchanges)
        digest = hashlib.sha1(markdown.encode()).hexdigest()[:10]
        path = self.export_dir / f"policy-qa-{digest}.md"
        path.write_text(markdown, encoding="utf-8")
        if session.export_path and session.export_path != str(path):
            Path(session.export_path).unlink(missing_ok=True)
        session.export_path = str(path)
        return gr.DownloadButton(value=str(path), interactive=True)

    def clear(self, session: Session | None) -> tuple[Any, ...]:
        """Forget this session's conversation (other sessions are untouched)."""
        if session and session.export_path:
            Path(session.export_path).unlink(missing_ok=True)
        return ([], Session(), render.sources_panel_html(None), render.status_html(None, "对话已清空"),
                gr.DownloadButton(value=None, interactive=False), "")

    def api_chat(self, question: str, essay: str = "", author: str = "",
                 history: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Answer one question, after the earlier turns if given ([{"role": "user"|"assistant", "content": ...}]);
        the JSON of `policy-qa ask --json`, or {"error": ...}."""
        with self.gate.slot() as admitted:
            if not admitted:
                return {"question": question, "error": BUSY_MESSAGE, "busy": True}
            final: Answer | None = None
            try:
                for event in self.assistant.stream(question, history=Turn.list_from(history), author=_filter(author),
                                                   essay=_filter(essay)):
                    if isinstance(event, Answer):
                        final = event
            except Exception as exc:
                if not isinstance(exc, PolicyQAError):
                    log.exception("answering failed")
                return {"question": question, "error": user_message(exc),
                        "input_error": isinstance(exc, InputError)}
        if final is None:
            return {"question": question, "error": INTERNAL_ERROR}
        return final.to_dict()


def _asset(name: str) -> str:
    return resources.files("ui").joinpath(name).read_text(encoding="utf-8")


def theme() -> gr.themes.Base:
    """A calm theme on system CJK fonts: nothing is fetched from a font CDN."""
    return gr.themes.Soft(
        primary_hue=gr.themes.colors.red,
        secondary_hue=gr.themes.colors.stone,
        neutral_hue=gr.themes.colors.stone,
        radius_size=gr.themes.sizes.radius_md,
        font=CJK_FONTS,
        font_mono=MONO_FONTS,
    ).set(
        body_background_fill="#f6f4f0",
        block_background_fill="#ffffff",
        button_primary_background_fill="#b3261e",
        button_primary_background_fill_hover="#8f1d17",
    )


def _essay_choices(essays: Sequence[Essay], author: str = "") -> list[tuple[str, str]]:
    return [("全部文章", "")] + [(render.essay_label(e), e.id) for e in essays if not author or e.author == author]


def _author_choices(essays: Sequence[Essay]) -> list[tuple[str, str]]:
    authors = list(dict.fromkeys(e.author for e in essays if e.author))
    return [("全部作者", "")] + [(a, a) for a in authors]


def essay_chosen(essays: Sequence[Essay], essay: str | None, author: str | None) -> tuple[str, str]:
    """(essay, author) after the reader picks an essay: the author becomes that essay's author."""
    chosen = next((e for e in essays if essay and e.id == essay), None)
    return (chosen.id, chosen.author) if chosen is not None else ("", author or "")


def author_chosen(essays: Sequence[Essay], essay: str | None, author: str | None) -> tuple[str, str]:
    """(essay, author) after the reader picks an author: an essay by someone else is reset to all essays."""
    kept = next((e for e in essays if essay and e.id == essay and (not author or e.author == author)), None)
    return (kept.id if kept is not None else "", author or "")


def _ready_status(settings: Settings | None) -> str:
    if settings is None:
        return "就绪"
    backend = settings.resolved_backend
    engine = render.OFFLINE_LABEL if backend == "extractive" else f"{backend} · {settings.model}"
    return f"{engine} · 就绪"


def build_app(assistant: ChatAssistant, settings: Settings | None = None, gate: Gate | None = None) -> gr.Blocks:
    """The page for one assistant; call `.queue(...)` and `.launch(...)` via `serve` or `launch`."""
    page = ChatPage(assistant, gate or (Gate.for_settings(settings) if settings else Gate()))
    essays = list(assistant.essays)
    with gr.Blocks(title="政策文章问答", analytics_enabled=False, fill_width=True,
                   delete_cache=(3600, 86400)) as demo:
        session = gr.State(Session())
        with gr.Row(elem_id="pq-header", equal_height=True):
            gr.HTML(
                '<div class="pq-brand"><div class="pq-logo">问</div><div><div class="pq-title">政策文章问答</div>'
                f'<div class="pq-subtitle">{len(essays)} 篇产业政策文章 · 每句回答注明作者、文章与章节 · '
                "文章未涉及的问题会直说</div></div></div>",
            )
            status = gr.HTML(render.status_html(None, _ready_status(settings)), elem_id="pq-status")
        with gr.Row(elem_id="pq-main"):
            with gr.Column(scale=7, elem_id="pq-left"):
                with gr.Row(elem_id="pq-filters", equal_height=True):
                    essay_filter = gr.Dropdown(_essay_choices(essays), value="", label="文章", show_label=False,
                                               container=False, elem_id="pq-essay-filter", scale=3)
                    author_filter = gr.Dropdown(_author_choices(essays), value="", label="作者", show_label=False,
                                                container=False, elem_id="pq-author-filter", scale=2)
                chatbot = gr.Chatbot(
                    elem_id="pq-chat", show_label=False, height=500, buttons=["copy"], feedback_options=None,
                    placeholder=('<div class="pq-placeholder"><b>向这几篇文章提问</b><br>'
                                 "回答只依据原文；点击回答中的 [1] 查看被引用的原文段落。</div>"),
                    sanitize_html=True, group_consecutive_messages=False,
                    # page.js scrolls each new question to the top instead: following the bottom pushed the start
                    # of a long answer (a summary) out of view.
                    autoscroll=False,
                )
                with gr.Row(elem_id="pq-input-row"):
                    question = gr.Textbox(placeholder="输入问题，按 Enter 发送（Shift+Enter 换行）",
                                          show_label=False, lines=1, max_lines=6, scale=9,
                                          elem_id="pq-question", autofocus=True)
                    send = gr.Button("发送", variant="primary", scale=1, min_width=80, elem_id="pq-send")
                with gr.Row(elem_id="pq-examples"):
                    example_buttons = [
                        (gr.Button(f"{kind}｜{text}", size="sm", elem_classes=["pq-example"]), text)
                        for kind, text in EXAMPLES
                    ]
                with gr.Row(elem_id="pq-actions"):
                    clear = gr.Button("清空对话", size="sm", variant="secondary", elem_id="pq-clear")
                    export = gr.DownloadButton("导出 Markdown", size="sm", variant="secondary",
                                               interactive=False, elem_id="pq-export")
            with gr.Column(scale=5, elem_id="pq-right"), gr.Tabs():
                with gr.Tab("其他检索结果", elem_id="pq-tab-sources"):
                    sources = gr.HTML(render.sources_panel_html(None), elem_id="pq-sources")
                with gr.Tab("文章一览", elem_id="pq-tab-corpus"):
                    summary_buttons = []
                    for essay in essays:
                        with gr.Group(elem_classes=["pq-essay-card"]):
                            gr.HTML(render.outline_html(essay))
                            summary_buttons.append(
                                (gr.Button("概括全文", size="sm", elem_classes=["pq-summary-btn"]), essay)
                            )

        outputs = [question, chatbot, sources, status, session, export]
        chat_inputs = [question, chatbot, session, essay_filter, author_filter]
        common: dict[str, Any] = {"concurrency_limit": None, "show_progress": "hidden"}
        # Answers are admitted by the Gate (shared with /chat), so Gradio's per-event limit is lifted for them.
        question.submit(page.respond, chat_inputs, outputs, api_name="respond", api_visibility="undocumented",
                        **common)
        send.click(page.respond, chat_inputs, outputs, api_visibility="private", **common)
        for button, text in example_buttons:
            button.click(lambda t=text: t, None, question, queue=False, api_visibility="private").then(
                page.respond, chat_inputs, outputs, api_visibility="private", **common)
        for button, essay in summary_buttons:
            summary_q = gr.State(f"概括《{essay.title}》的主要内容。")
            essay_id = gr.State(essay.id)
            button.click(page.respond, [summary_q, chatbot, session, essay_id, gr.State("")], outputs,
                         api_visibility="private", **common)
        # The two filters stay consistent: an essay sets its author; an author narrows the essay list and resets an
        # essay by someone else (an author/essay pair that cannot match made every answer "not covered").
        def on_essay(essay: str | None, author: str | None) -> tuple[Any, Any]:
            _essay, author_name = essay_chosen(page.assistant.essays, essay, author)
            return gr.skip(), gr.Dropdown(value=author_name)

        def on_author(essay: str | None, author: str | None) -> tuple[Any, Any]:
            current = page.assistant.essays
            essay_id, author_name = author_chosen(current, essay, author)
            return gr.Dropdown(choices=_essay_choices(current, author_name), value=essay_id), gr.skip()

        filter_args: dict[str, Any] = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}
        essay_filter.input(on_essay, [essay_filter, author_filter], [essay_filter, author_filter], **filter_args)
        author_filter.input(on_author, [essay_filter, author_filter], [essay_filter, author_filter], **filter_args)
        clear_outputs = [chatbot, session, sources, status, export, question]
        clear.click(page.clear, [session], clear_outputs, queue=False, api_visibility="private")
        # The Chatbot's own trash icon must forget the session history too, or the next answer would use it.
        chatbot.clear(page.clear, [session], clear_outputs, queue=False, api_visibility="private")
        gr.api(page.api_chat, api_name="chat", concurrency_limit=None)
    return demo


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_auth(raw: str) -> list[tuple[str, str]]:
    """POLICY_QA_AUTH as `user:password` (several separated by commas)."""
    pairs: list[tuple[str, str]] = []
    for item in raw.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user or not password:
            raise ConfigError("POLICY_QA_AUTH must look like user:password (several separated by commas)")
        pairs.append((user, password))
    return pairs


@dataclass(frozen=True)
class LaunchOptions:
    """Everything passed to `Blocks.queue` and `Blocks.launch`, computed once so tests can assert it."""

    server_name: str
    server_port: int | None
    auth: list[tuple[str, str]] | None = field(default=None, repr=False)
    share: bool = False
    max_file_size: str = MAX_FILE_SIZE
    allowed_paths: tuple[str, ...] = ()
    blocked_paths: tuple[str, ...] = ()
    queue_max_size: int = QUEUE_MAX
    default_concurrency_limit: int = RUNNING
    show_error: bool = False
    ssr_mode: bool = False

    def launch_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `Blocks.launch`."""
        return {
            "server_name": self.server_name,
            "server_port": self.server_port,
            "auth": self.auth,
            "auth_message": "请输入访问政策文章问答的用户名和密码。" if self.auth else None,
            "share": self.share,
            "max_file_size": self.max_file_size,
            "allowed_paths": list(self.allowed_paths),
            "blocked_paths": list(self.blocked_paths),
            "show_error": self.show_error,
            "ssr_mode": self.ssr_mode,
            "pwa": False,
            "mcp_server": False,
            "enable_monitoring": False,
            "inbrowser": False,
            "footer_links": ["api"],
            "theme": theme(),
            "css": _asset("style.css"),
            "js": _asset("page.js"),
            "quiet": True,
        }


def launch_options(settings: Settings, host: str = "127.0.0.1", port: int | None = 7860,
                   allow_remote_without_auth: bool = False) -> LaunchOptions:
    """Check the exposure rules and build the launch options; a non-loopback host needs POLICY_QA_AUTH."""
    auth = parse_auth(settings.auth) if settings.auth else None
    if not is_loopback(host) and auth is None and not allow_remote_without_auth:
        raise ConfigError(
            f"Serving on {host} exposes the app beyond this machine: set POLICY_QA_AUTH=user:password "
            "or pass --insecure-no-auth"
        )
    blocked = [settings.home, settings.index_dir, settings.cache_dir, Path.cwd() / ".env", Path.home() / ".ssh"]
    return LaunchOptions(
        server_name=host,
        server_port=port,
        auth=auth,
        blocked_paths=tuple(str(Path(p).resolve()) for p in blocked),
        queue_max_size=max(QUEUE_MAX, 2 * (settings.max_running + settings.max_waiting)),
        default_concurrency_limit=settings.max_running,
    )


def launch(demo: gr.Blocks, options: LaunchOptions, block: bool = True) -> str:
    """Queue and launch `demo` with `options`; returns the local URL (non-blocking when `block` is False)."""
    demo.queue(max_size=options.queue_max_size, default_concurrency_limit=options.default_concurrency_limit)
    _, url, _ = demo.launch(prevent_thread_lock=not block, **options.launch_kwargs())
    return str(url)


def _can_listen(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn does: a port left in TIME_WAIT by a previous run is free to use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError:
            return False
    return True


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860,
          allow_remote_without_auth: bool = False) -> None:
    """Build the index if needed (with progress on stderr), then serve the page until interrupted."""
    options = launch_options(settings, host, port, allow_remote_without_auth)
    if not _can_listen(host, port):  # before the index loads, not half a minute later
        raise ConfigError(f"Port {port} on {host} is in use or not available; pass another --port")
    if not is_loopback(host) and options.auth is None:
        print(f"警告：{host} 上的服务没有设置访问密码（POLICY_QA_AUTH），同一网络的人都能访问。",
              file=sys.stderr, flush=True)
    from rag.answer import Assistant

    _progress("正在加载文章与检索索引…")
    assistant = Assistant.from_settings(settings, progress=_progress)
    offline = settings.resolved_backend == "extractive"
    if offline:
        # The first search loads tokenizer dictionaries and warms the embedding model (about 2 s on 2 cores);
        # pay that now rather than on the first visitor's question. Offline only: it costs no model call.
        assistant.ask(WARM_UP_QUESTION)
    demo = build_app(assistant, settings)
    try:
        url = launch(demo, options, block=False)
    except OSError:
        raise ConfigError(f"Port {port} on {host} is in use or not available; pass another --port") from None
    if offline and options.auth is None:
        warm_up_events(url)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    _progress(f"政策文章问答已启动：http://{shown}:{port}/  （Ctrl+C 退出）")
    demo.block_thread()


def chat_api_data(question: str, essay: str = "", author: str = "",
                  history: Sequence[dict[str, str]] = ()) -> list[Any]:
    """The `data` list of a plain HTTP call to /chat (`POST /gradio_api/call/chat`): Gradio's HTTP API needs
    every argument, gradio_client fills in the defaults itself."""
    return [question, essay, author, list(history)]


def warm_up_events(url: str) -> None:
    """One question through the app's own HTTP API: Gradio's first event costs ~0.6 s that no visitor should pay."""
    base = url.replace("0.0.0.0", "127.0.0.1").replace("[::]", "127.0.0.1").rstrip("/")
    body = json.dumps({"data": chat_api_data(WARM_UP_QUESTION)}).encode()
    request = urllib.request.Request(f"{base}/gradio_api/call/chat", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - our own loopback URL
            event_id = json.loads(resp.read())["event_id"]
        with urllib.request.urlopen(f"{base}/gradio_api/call/chat/{event_id}", timeout=30) as resp:  # noqa: S310
            resp.read()
    except (OSError, ValueError, KeyError) as exc:  # a failed warm-up only costs the first visitor time
        log.info("warm-up request failed: %s", exc)
