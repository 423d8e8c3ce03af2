"""Language-model endpoints: the chat-model seam, the one function that builds the OpenAI client, and the
OpenAI-compatible chat model (OpenAI, DeepSeek, Qwen/DashScope, Ollama, vLLM, llama.cpp server).

Every failure becomes one of the LLMError subclasses with a Chinese message that names the variable to fix;
the API key never appears in any message.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import openai

from rag.config import Settings
from rag.errors import (
    LLMConfigError,
    LLMError,
    LLMRateLimitError,
    LLMStreamError,
    LLMTimeoutError,
    LLMUnavailableError,
)
from rag.tokens import count_tokens

CONNECT_TIMEOUT = 5.0  # an unreachable host should fail fast even when the answer timeout is long


class ChatModel(Protocol):
    """A chat model: streams the answer's text pieces for a list of messages.

    `last_usage` holds the server's token counts; `"estimated": 1` marks counts made in code when the server
    gave none. A model may also say whether a call is `cheap` (an endpoint) or costs seconds (a CPU model)."""

    backend: str
    model: str
    last_usage: dict[str, int]

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]:
        """Yield text pieces; afterwards `last_usage` holds the token counts."""
        ...


def make_openai_client(settings: Settings) -> openai.OpenAI:
    """Build the OpenAI-compatible client with an explicit timeout and bounded retries."""
    if not settings.endpoint_configured:
        raise LLMConfigError("没有配置模型服务：请设置 OPENAI_API_KEY（或本地服务的 OPENAI_BASE_URL）。")
    return openai.OpenAI(
        api_key=settings.openai_api_key or "not-needed",  # keyless local servers still need a non-empty value
        base_url=settings.openai_base_url or None,
        timeout=openai.Timeout(settings.llm_timeout, connect=min(CONNECT_TIMEOUT, settings.llm_timeout)),
        max_retries=settings.llm_max_retries,
    )


# A path segment of the base URL that looks like a credential (some gateways put the key or a token in the
# path): 16+ characters mixing letters and digits, or a key-shaped prefix. Model and version segments such as
# `v1`, `compatible-mode`, `deployments/gpt-4o-mini` do not match.
_SECRET_SEGMENT = re.compile(r"^(?:(?:sk|pk|key|token|api[_-]?key)[-_=][^/]{4,}|(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_\-.~%]{16,})$",
                             re.I)
# a copied part of the key at least this long counts as the key (a masked `sk-abcd…wxyz` keeps 4 + 4)
_KEY_FRAGMENT = 8


def _path_secrets(base_url: str) -> list[str]:
    """The base URL's path segments (and user info) that look like credentials."""
    if not base_url:
        return []
    parts = urlsplit(base_url)
    found = [seg for seg in parts.path.split("/") if seg and _SECRET_SEGMENT.match(seg)]
    if parts.password:
        found.append(parts.password)
    if parts.username and _SECRET_SEGMENT.match(parts.username):
        found.append(parts.username)
    return found


def endpoint_label(base_url: str) -> str:
    """Scheme, host and path of the endpoint, without credentials, query or secret-looking path parts."""
    if not base_url:
        return "api.openai.com"
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    path = "/".join("***" if seg and _SECRET_SEGMENT.match(seg) else seg for seg in parts.path.split("/"))
    return f"{parts.scheme}://{host}{port}{path}" if parts.scheme else base_url.split("?")[0]


def _fragments(text: str, secret: str, shortest: int) -> list[tuple[int, int]]:
    """Spans of `text` (case-insensitive) that copy at least `shortest` consecutive characters of `secret`."""
    low, sec = text.lower(), secret.lower()
    spans: list[tuple[int, int]] = []
    i = 0
    while i <= len(low) - shortest:
        if low[i:i + shortest] in sec:
            j = i + shortest
            while j < len(low) and low[i:j + 1] in sec:
                j += 1
            spans.append((i, j))
            i = j
        else:
            i += 1
    return spans


def scrub(text: str, secret: str, base_url: str = "") -> str:
    """Remove the key from a message: exact, URL-encoded or case-changed copies, copied fragments of it
    (8+ characters), secret-looking parts of the base URL, and anything shaped like a key."""
    secrets_ = [s for s in [secret, *_path_secrets(base_url)] if s]
    for value in secrets_:
        for form in {value, quote(value, safe=""), quote(value)}:
            text = re.sub(re.escape(form), "***", text, flags=re.I)
        if len(value) >= _KEY_FRAGMENT:
            for start, end in reversed(_fragments(text, value, _KEY_FRAGMENT)):
                text = text[:start] + "***" + text[end:]
    return re.sub(r"\b(sk|pk|key)-[A-Za-z0-9_\-*]{6,}", "***", text)


def _usage_dict(u: Any) -> dict[str, int]:
    """The server's token counts (and the prompt tokens it served from its cache, when it says)."""
    usage = {"prompt_tokens": u.prompt_tokens or 0, "completion_tokens": u.completion_tokens or 0,
             "total_tokens": u.total_tokens or 0}
    details = getattr(u, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    if cached is not None:
        usage["cached_tokens"] = int(cached)
    return usage


def _retry_after(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers if exc.response is not None else {}
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class OpenAIChatModel:
    """Chat completions over any OpenAI-compatible endpoint: streaming, explicit timeout, bounded retries."""

    backend = "openai"
    cheap = True  # a remote call costs about a second: follow-ups may be rewritten by the model

    def __init__(self, client: openai.OpenAI, model: str, *, timeout: float = 30.0, max_retries: int = 2,
                 max_retry_wait: float = 10.0, endpoint: str = "", secret: str = "",
                 sleep: Callable[[float], None] = time.sleep, temperature: float = 0.1, base_url: str = "",
                 extra_body: dict[str, Any] | None = None) -> None:
        # retries are ours (the client's own would wait up to a minute on Retry-After)
        self.client = client.with_options(max_retries=0)
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.endpoint = endpoint or "api.openai.com"
        self._secret = secret
        self._base_url = base_url
        self._sleep = sleep
        self.temperature = temperature
        self.extra_body = dict(extra_body or {})
        self._stream_options = True
        self._local = threading.local()  # one model serves concurrent sessions: usage is per thread

    @property
    def last_usage(self) -> dict[str, int]:
        """Token counts of this thread's last request."""
        return getattr(self._local, "usage", {})

    @last_usage.setter
    def last_usage(self, value: dict[str, int]) -> None:
        self._local.usage = value

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIChatModel:
        """The chat model for OPENAI_BASE_URL / OPENAI_API_KEY / POLICY_QA_MODEL."""
        return cls(make_openai_client(settings), settings.model, timeout=settings.llm_timeout,
                   max_retries=settings.llm_max_retries, max_retry_wait=settings.max_retry_wait,
                   endpoint=endpoint_label(settings.openai_base_url), secret=settings.openai_api_key,
                   temperature=settings.temperature, extra_body=settings.extra_body,
                   base_url=settings.openai_base_url)

    # ------------------------------------------------------------------------------------------ requests

    def _create(self, messages: list[dict[str, str]], max_tokens: int, stream: bool) -> Any:
        """One request with our retry policy: 429 (Retry-After within bounds), 5xx and connection errors."""
        attempt = 0
        while True:
            try:
                kwargs: dict[str, Any] = {}
                if stream and self._stream_options:
                    kwargs["stream_options"] = {"include_usage": True}  # the server's counts, not estimates
                if self.extra_body:
                    kwargs["extra_body"] = self.extra_body
                create: Any = self.client.chat.completions.create
                return create(model=self.model, messages=messages, max_tokens=max_tokens, stream=stream,
                              temperature=self.temperature, **kwargs)
            except openai.APITimeoutError:
                raise LLMTimeoutError(self._timeout_message()) from None
            except openai.APIConnectionError:
                error: LLMError = LLMUnavailableError(
                    f"无法连接模型服务 {self.endpoint}：请检查 OPENAI_BASE_URL 和网络连接。")
                wait = self._backoff(attempt)
            except openai.RateLimitError as exc:
                asked = _retry_after(exc)
                if asked is not None and asked > self.max_retry_wait:
                    raise LLMRateLimitError(
                        f"模型服务限流（HTTP 429），要求等待 {asked:.0f} 秒，超过上限 {self.max_retry_wait:g} 秒"
                        "（POLICY_QA_MAX_RETRY_WAIT）：请稍后再试。") from None
                error = LLMRateLimitError(
                    f"模型服务限流（HTTP 429），重试 {self.max_retries} 次后仍未成功：请稍后再试，"
                    "或调大 POLICY_QA_LLM_MAX_RETRIES。")
                wait = asked if asked is not None else self._backoff(attempt)
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status == 400 and stream and self._stream_options and "stream_options" in str(exc.body or ""):
                    self._stream_options = False  # some compatible servers reject it; usage is then estimated
                    continue
                if status >= 500:
                    error = LLMUnavailableError(f"模型服务出错（HTTP {status}）：请稍后再试。")
                    wait = self._backoff(attempt)
                else:
                    raise self._status_error(status, exc) from None
            if attempt >= self.max_retries:
                raise error
            attempt += 1
            self._sleep(min(wait, self.max_retry_wait))

    def _backoff(self, attempt: int) -> float:
        return min(0.5 * 2**attempt, self.max_retry_wait)

    def _timeout_message(self) -> str:
        return f"模型服务在 {self.timeout:g} 秒内没有响应（POLICY_QA_LLM_TIMEOUT）：服务繁忙，请稍后再试。"

    def _status_error(self, status: int, exc: openai.APIStatusError) -> LLMError:
        if status == 401:
            return LLMConfigError("模型服务拒绝了 API 密钥（HTTP 401）：请检查 OPENAI_API_KEY。")
        if status == 403:
            return LLMConfigError(
                f"模型服务拒绝访问（HTTP 403）：该密钥无权使用模型 {self.model}，请检查 OPENAI_API_KEY 或 POLICY_QA_MODEL。")
        if status == 404:
            return LLMConfigError(
                f"模型服务找不到模型 {self.model} 或接口 {self.endpoint}（HTTP 404）：请检查 POLICY_QA_MODEL 和 OPENAI_BASE_URL。")
        detail = scrub(str(getattr(exc, "message", "") or ""), self._secret, self._base_url)[:160]
        return LLMError(f"模型服务拒绝了请求（HTTP {status}）：{detail}")

    # ------------------------------------------------------------------------------------------ the seam

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]:
        """Yield the answer's text pieces; a broken stream raises with the partial text kept."""
        self.last_usage = {}
        response = self._create(messages, max_tokens, stream=True)
        pieces: list[str] = []
        finished = False
        usage: dict[str, int] = {}
        try:
            for chunk in response:
                if getattr(chunk, "usage", None):
                    usage = _usage_dict(chunk.usage)
                for choice in chunk.choices or []:
                    text = choice.delta.content if choice.delta is not None else None
                    if text:
                        pieces.append(text)
                        yield text
                    if choice.finish_reason:
                        finished = True
        except LLMError:
            raise
        except Exception as exc:  # the transport raises its own types mid-stream; classify by name
            partial = "".join(pieces)
            if "timeout" in type(exc).__name__.lower() or isinstance(exc, openai.APITimeoutError):
                raise LLMTimeoutError(self._timeout_message(), partial) from None
            raise LLMStreamError("模型回答中途中断（连接断开），已保留已收到的部分回答。", partial) from None
        finally:
            close = getattr(response, "close", None)
            if callable(close):
                close()
        if not finished:
            raise LLMStreamError("模型回答中途中断（没有收到结束标记），已保留已收到的部分回答。", "".join(pieces))
        self.last_usage = usage or self._estimate(messages, "".join(pieces))

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int) -> str:
        """A non-streaming completion (used for short internal steps such as follow-up rewriting)."""
        self.last_usage = {}
        response = self._create(messages, max_tokens, stream=False)
        text = (response.choices[0].message.content or "") if response.choices else ""
        u = getattr(response, "usage", None)
        self.last_usage = _usage_dict(u) if u else self._estimate(messages, text)
        return text

    @staticmethod
    def _estimate(messages: list[dict[str, str]], answer: str) -> dict[str, int]:
        prompt = sum(count_tokens(m.get("content", "")) + 4 for m in messages)
        completion = count_tokens(answer)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                "estimated": 1}
