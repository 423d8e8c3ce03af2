"""The real `openai` client against a loopback OpenAI-compatible server: success paths and every fault."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_server import FakeOpenAIServer, Reply, running_server

from rag.config import Settings
from rag.errors import (
    LLMConfigError,
    LLMError,
    LLMRateLimitError,
    LLMStreamError,
    LLMTimeoutError,
    LLMUnavailableError,
)
from rag.llm import OpenAIChatModel, endpoint_label, make_openai_client, scrub

KEY = "sk-test-VERYSECRET-0123456789"
MESSAGES = [{"role": "system", "content": "规则"}, {"role": "user", "content": "问题"}]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with running_server() as s:
        yield s


def settings(home: Path, base_url: str, **env: str) -> Settings:
    return Settings.from_env({"POLICY_QA_HOME": str(home), "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": base_url,
                              "POLICY_QA_MODEL": "test-model", "POLICY_QA_LLM_TIMEOUT": "2", **env})


def model(tmp_path: Path, server: FakeOpenAIServer, waits: list[float] | None = None, **env: str) -> OpenAIChatModel:
    s = settings(tmp_path, server.base_url, **env)
    m = OpenAIChatModel.from_settings(s)
    if waits is not None:
        m._sleep = waits.append  # record the retry waits instead of sleeping
    return m


def test_client_has_explicit_timeout_and_requires_an_endpoint(tmp_path: Path) -> None:
    client = make_openai_client(settings(tmp_path, "http://127.0.0.1:9/v1"))
    assert client.timeout.read == 2.0 and client.timeout.connect <= 2.0
    with pytest.raises(LLMConfigError, match="OPENAI_API_KEY"):
        make_openai_client(Settings.from_env({"POLICY_QA_HOME": str(tmp_path)}))


def test_streaming_answer_usage_and_request_shape(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.replies.append(Reply(text="新型工业化的特征是科技水平高[1]。"))
    m = model(tmp_path, server)
    pieces = list(m.stream(MESSAGES, max_tokens=77))
    assert "".join(pieces) == "新型工业化的特征是科技水平高[1]。"
    assert len(pieces) > 1
    assert m.last_usage["total_tokens"] == m.last_usage["prompt_tokens"] + m.last_usage["completion_tokens"] > 0
    req = server.chat_requests()[-1]
    assert req.body["max_tokens"] == 77 and req.body["stream"] is True and req.body["model"] == "test-model"
    assert req.headers["authorization"] == f"Bearer {KEY}"


def test_non_streaming_completion(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.replies.append(Reply(text="改写后的问题"))
    m = model(tmp_path, server)
    assert m.complete(MESSAGES, max_tokens=50) == "改写后的问题"
    assert m.last_usage == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    assert server.chat_requests()[-1].body["max_tokens"] == 50


def test_usage_estimated_when_server_omits_it(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.replies.append(Reply(text="答案。", usage=False))
    m = model(tmp_path, server)
    assert "".join(m.stream(MESSAGES, max_tokens=20)) == "答案。"
    assert m.last_usage["estimated"] == 1 and m.last_usage["completion_tokens"] > 0


@pytest.mark.parametrize(("status", "variables"), [
    (401, ["OPENAI_API_KEY"]),
    (403, ["OPENAI_API_KEY", "POLICY_QA_MODEL"]),
    (404, ["POLICY_QA_MODEL", "OPENAI_BASE_URL"]),
])
def test_config_errors_name_the_variable_and_never_retry(tmp_path: Path, server: FakeOpenAIServer, status: int,
                                                          variables: list[str]) -> None:
    server.replies.append(Reply(status=status, error_message=f"Incorrect API key provided: {KEY}"))
    m = model(tmp_path, server, waits=[])
    with pytest.raises(LLMConfigError) as info:
        list(m.stream(MESSAGES, max_tokens=10))
    for var in variables:
        assert var in str(info.value)
    assert KEY not in str(info.value) and "VERYSECRET" not in repr(info.value)
    assert len(server.chat_requests()) == 1


def test_429_with_short_retry_after_is_retried(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.replies += [Reply(status=429, headers={"Retry-After": "1"}), Reply(text="成功。")]
    waits: list[float] = []
    m = model(tmp_path, server, waits=waits)
    assert "".join(m.stream(MESSAGES, max_tokens=10)) == "成功。"
    assert waits == [1.0]
    assert len(server.chat_requests()) == 2


def test_429_with_long_retry_after_fails_fast_with_a_clear_message(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.replies.append(Reply(status=429, headers={"Retry-After": "3600"}))
    waits: list[float] = []
    m = model(tmp_path, server, waits=waits, POLICY_QA_MAX_RETRY_WAIT="5")
    with pytest.raises(LLMRateLimitError) as info:
        list(m.stream(MESSAGES, max_tokens=10))
    assert "3600" in str(info.value) and "POLICY_QA_MAX_RETRY_WAIT" in str(info.value)
    assert waits == [] and len(server.chat_requests()) == 1


def test_429_retries_are_bounded(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.replies += [Reply(status=429, headers={"Retry-After": "0"}) for _ in range(5)]
    waits: list[float] = []
    m = model(tmp_path, server, waits=waits, POLICY_QA_LLM_MAX_RETRIES="2")
    with pytest.raises(LLMRateLimitError):
        list(m.stream(MESSAGES, max_tokens=10))
    assert len(server.chat_requests()) == 3 and len(waits) == 2


def test_server_errors_are_retried_then_reported(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.replies += [Reply(status=500), Reply(text="好。")]
    m = model(tmp_path, server, waits=[])
    assert "".join(m.stream(MESSAGES, max_tokens=10)) == "好。"
    server.replies += [Reply(status=503) for _ in range(3)]
    with pytest.raises(LLMUnavailableError, match="503"):
        list(m.stream(MESSAGES, max_tokens=10))


def test_stall_before_the_answer_times_out(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.replies.append(Reply(stall=5))
    m = model(tmp_path, server, POLICY_QA_LLM_TIMEOUT="0.5")
    with pytest.raises(LLMTimeoutError) as info:
        list(m.stream(MESSAGES, max_tokens=10))
    assert "POLICY_QA_LLM_TIMEOUT" in str(info.value) and info.value.partial == ""
    assert len(server.chat_requests()) == 1  # a timeout is not retried: the bound holds


def test_stall_mid_stream_keeps_the_partial_answer(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.replies.append(Reply(text="第一句话已经发出。第二句", stall_after=2, stream_stall=5, piece=3))
    m = model(tmp_path, server, POLICY_QA_LLM_TIMEOUT="0.5")
    got: list[str] = []
    with pytest.raises(LLMTimeoutError) as info:
        for piece in m.stream(MESSAGES, max_tokens=10):
            got.append(piece)
    assert info.value.partial == "".join(got) == "第一句话已经"


def test_dropped_stream_keeps_the_partial_answer(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.replies.append(Reply(text="前半句已经收到，后半句", drop_after=2, piece=3))
    m = model(tmp_path, server)
    with pytest.raises(LLMStreamError) as info:
        list(m.stream(MESSAGES, max_tokens=10))
    assert info.value.partial == "前半句已经收"
    assert "部分回答" in str(info.value)


def test_unreachable_endpoint(tmp_path: Path) -> None:
    with running_server() as s:
        url = s.base_url
    m = OpenAIChatModel.from_settings(settings(tmp_path, url, POLICY_QA_LLM_MAX_RETRIES="1"))
    m._sleep = lambda _s: None
    with pytest.raises(LLMUnavailableError) as info:
        list(m.stream(MESSAGES, max_tokens=10))
    assert "OPENAI_BASE_URL" in str(info.value) and KEY not in str(info.value)


def test_other_client_errors_are_scrubbed(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.replies.append(Reply(status=400, error_message=f"bad request for key {KEY}"))
    m = model(tmp_path, server)
    with pytest.raises(LLMError) as info:
        list(m.stream(MESSAGES, max_tokens=10))
    assert "400" in str(info.value) and KEY not in str(info.value)


def test_endpoint_label_and_scrub_hide_credentials() -> None:
    assert endpoint_label("http://user:pw@127.0.0.1:8080/v1?key=x") == "http://127.0.0.1:8080/v1"
    assert "secret" not in scrub("token sk-secretsecret and secretvalue", "secretvalue")


def test_stream_asks_for_usage_and_records_the_servers_counts(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.replies.append(Reply(text="新型工业化的特征是科技水平高[1]。", piece=4, cached_tokens=8))
    m = model(tmp_path, server)
    pieces = list(m.stream(MESSAGES, max_tokens=40))
    assert server.chat_requests()[-1].body["stream_options"] == {"include_usage": True}
    # the server's figures exactly (11 prompt tokens, one completion token per piece), not an estimate
    assert m.last_usage == {"prompt_tokens": 11, "completion_tokens": len(pieces),
                            "total_tokens": 11 + len(pieces), "cached_tokens": 8}


def test_temperature_and_extra_body_come_from_settings(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.replies.append(Reply(text="好。"))
    m = model(tmp_path, server, POLICY_QA_TEMPERATURE="0",
              POLICY_QA_EXTRA_BODY='{"cache_prompt": true, "options": {"num_ctx": 4096}}')
    list(m.stream(MESSAGES, max_tokens=10))
    body = server.chat_requests()[-1].body
    assert body["temperature"] == 0 and body["cache_prompt"] is True and body["options"] == {"num_ctx": 4096}


@pytest.mark.parametrize("raw", ["[1, 2]", "{bad json", '"text"'])
def test_a_malformed_extra_body_names_the_variable(tmp_path: Path, raw: str) -> None:
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="POLICY_QA_EXTRA_BODY"):
        Settings.from_env({"POLICY_QA_HOME": str(tmp_path), "POLICY_QA_EXTRA_BODY": raw})


def test_the_gate_setting_is_read_and_checked(tmp_path: Path) -> None:
    from rag.errors import ConfigError

    env = {"POLICY_QA_HOME": str(tmp_path)}
    assert not Settings.from_env(env).strict_gate
    assert Settings.from_env({**env, "POLICY_QA_GATE": "strict"}).strict_gate
    with pytest.raises(ConfigError, match="POLICY_QA_GATE"):
        Settings.from_env({**env, "POLICY_QA_GATE": "loose"})


def test_the_assistant_reports_the_servers_usage(tmp_path: Path, server: FakeOpenAIServer) -> None:
    from fakes import FakeRetriever

    from rag.answer import Assistant

    server.replies.append(Reply(text="数据中心是数字基础设施的核心[1]。", piece=5))
    s = settings(tmp_path, server.base_url)
    answer = Assistant(FakeRetriever.default(), OpenAIChatModel.from_settings(s), s).ask(  # type: ignore[arg-type]
        "数据中心有什么地位？")
    assert "estimated" not in answer.usage and answer.usage["prompt_tokens"] == 11
    assert answer.usage["completion_tokens"] == len("数据中心是数字基础设施的核心[1]。") // 5 + 1


def test_scrub_catches_altered_copies_of_the_key() -> None:
    for leaked in [KEY.upper(), KEY.lower(), KEY[:14], KEY[-12:], f"{KEY[:8]}...{KEY[-8:]}",
                   KEY.replace("-", "%2D")[3:]]:
        out = scrub(f"upstream said: {leaked} rejected", KEY)
        assert not any(KEY[i:i + 8].lower() in out.lower() for i in range(len(KEY) - 7)), (leaked, out)
        assert out.startswith("upstream said:")


def test_secrets_in_the_base_url_path_are_hidden() -> None:
    url = "https://gateway.example/a1b2c3d4e5f6g7h8i9j0/v1"
    assert endpoint_label(url) == "https://gateway.example/***/v1"
    assert "a1b2c3d4e5f6g7h8i9j0" not in scrub(f"404 for {url}/chat/completions", "", url)
    # ordinary path parts stay readable
    assert endpoint_label("https://dashscope.aliyuncs.com/compatible-mode/v1") == \
        "https://dashscope.aliyuncs.com/compatible-mode/v1"
    assert endpoint_label("http://127.0.0.1:11434/v1") == "http://127.0.0.1:11434/v1"
