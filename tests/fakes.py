"""Fakes for the answer layer: a chat model with queued answers and a retriever over hand-made chunks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.lexical import analyze
from rag.types import Answer, Chunk, Delta, Essay, Hit, Section

if TYPE_CHECKING:
    from rag.answer import Assistant

# A small corpus shaped like the real one: an introduction, a list of 一是/二是/三是 items, headed paragraphs.
ESSAYS_RAW = [
    (
        "e1", "推动制造业绿色转型", "赵明", "（作者系某大学经济学院教授）",
        [
            ("引言", [
                "绿色转型是制造业高质量发展的必由之路。西方国家的工业化大都经历了先污染后治理的过程，我国应当走绿色工业化道路。",
            ]),
            ("绿色转型的路径", [
                "推进绿色转型，需要从三个方面着力。",
                "一是加快节能降碳改造。企业应当淘汰高耗能设备，推广清洁生产技术。",
                "二是发展循环经济。建立废旧物资回收体系，提高资源综合利用效率。",
                "三是完善绿色标准体系。以标准引领企业开展绿色设计和绿色制造。",
            ]),
        ],
    ),
    (
        "e2", "数字经济赋能区域发展", "钱红", "（作者系某研究院研究员）",
        [
            ("引言", [
                "数字经济是区域协调发展的新引擎。欠发达地区可以借助数字技术缩小与发达地区的差距。",
            ]),
            ("数字基础设施", [
                "数据中心是数字基础设施的核心。地方政府应当统筹布局算力网络，避免重复建设。",
            ]),
            ("数字人才", [
                "人才是数字经济发展的第一资源。要建立多层次的数字技能培训体系，吸引领军人才及其团队。",
            ]),
        ],
    ),
]


def make_corpus() -> tuple[list[Essay], list[Chunk]]:
    """Essays and one chunk per paragraph, with offsets into `Essay.text` like the real chunker."""
    essays: list[Essay] = []
    chunks: list[Chunk] = []
    for eid, title, author, aff, sections in ESSAYS_RAW:
        essay = Essay(eid, title, author, aff, "fake.txt",
                      tuple(Section(t, tuple(ps)) for t, ps in sections))
        essays.append(essay)
        offset, para = 0, 0
        for si, (stitle, paras) in enumerate(sections):
            for p in paras:
                chunks.append(Chunk(
                    id=f"{eid}-{para}", text=p, essay_id=eid, title=title, author=author, affiliation=aff,
                    section=stitle, section_index=si, paragraph_start=para, paragraph_end=para,
                    char_start=offset, char_end=offset + len(p), source="fake.txt"))
                offset += len(p) + 1
                para += 1
    return essays, chunks


def _grams(text: str) -> set[str]:
    s = "".join(ch for ch in text if ch.isalnum())
    return {s[i:i + 2] for i in range(len(s) - 1)}


@dataclass
class FakeRetriever:
    """Character-bigram search over given chunks; records every call."""

    essays: list[Essay]
    chunks: list[Chunk]
    top_k: int = 4
    calls: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    @classmethod
    def default(cls) -> FakeRetriever:
        """The fake over the small built-in corpus."""
        essays, chunks = make_corpus()
        return cls(essays, chunks)

    def search(self, question: str, k: int | None = None, author: str | None = None, essay: str | None = None,
               mode: str = "hybrid") -> list[Hit]:
        """The k chunks sharing most bigrams with the question (all chunks rank, ties by position)."""
        self.calls.append((question, author, essay))
        q = _grams(question)
        pool = [c for c in self.chunks if (not author or c.author == author) and
                (not essay or essay in (c.essay_id, c.title) or essay in c.title)]
        scored = sorted(pool, key=lambda c: (-len(q & _grams(c.text)), self.chunks.index(c)))
        return [Hit(c, float(len(q & _grams(c.text))), rank=i) for i, c in enumerate(scored[: k or self.top_k], 1)]

    def relevance(self, question: str, hits: Sequence[Hit]) -> float:
        """Like a calibrated probability: twice the best share of the question's topic bigrams (question words
        removed) found in one of the top three hits, capped at 1."""
        q = set(analyze(question, query=True))
        if not hits or not q:
            return 0.0
        return min(1.0, 2 * max(len(q & _grams(h.chunk.text)) / len(q) for h in hits[:3]))


@dataclass
class FakeChatModel:
    """Streams queued answers; an Exception in the queue (or at the end of a piece list) is raised."""

    answers: list[str | list[str | Exception] | Exception] = field(default_factory=list)
    backend: str = "openai"
    model: str = "fake-model"
    last_usage: dict[str, int] = field(default_factory=dict)
    calls: list[list[dict[str, str]]] = field(default_factory=list)
    max_tokens_seen: list[int] = field(default_factory=list)

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]:
        """Record the request, then yield the next queued answer in pieces."""
        self.calls.append(messages)
        self.max_tokens_seen.append(max_tokens)
        item = self.answers.pop(0) if self.answers else "好的。"
        if isinstance(item, Exception):
            raise item
        pieces = [item[i:i + 3] for i in range(0, len(item), 3)] if isinstance(item, str) else item
        for piece in pieces:
            if isinstance(piece, Exception):
                raise piece
            yield piece
        self.last_usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}

    def prompt_text(self, call: int = -1) -> str:
        """Everything sent in one call, joined."""
        return "\n".join(m["content"] for m in self.calls[call])


def run(assistant: Assistant, question: str, **kw: object) -> tuple[str, Answer]:
    """The streamed text and the final Answer; checks the stream contract on the way."""
    shown = ""
    finals = []
    for event in assistant.stream(question, **kw):  # type: ignore[arg-type]
        if isinstance(event, Delta):
            shown += event.text
        else:
            finals.append(event)
    assert len(finals) == 1
    return shown, finals[0]
