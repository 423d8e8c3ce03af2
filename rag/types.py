"""Data classes for what flows through the pipeline: essays, chunks, sentences, hits, citations, answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Section:
    """A titled part of an essay with its cleaned paragraphs."""

    title: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Essay:
    """One essay: title, byline, affiliation and ordered sections."""

    id: str
    title: str
    author: str
    affiliation: str
    source: str
    sections: tuple[Section, ...]

    def to_dict(self) -> dict[str, Any]:
        """The `corpus --json` shape."""
        return {
            "id": self.id,
            "title": self.title,
            "author": self.author,
            "affiliation": self.affiliation,
            "source": self.source,
            "sections": [{"title": s.title, "paragraphs": list(s.paragraphs)} for s in self.sections],
        }

    @property
    def text(self) -> str:
        """The cleaned essay body, paragraphs joined by newlines (chunk offsets point into it)."""
        return "\n".join(p for s in self.sections for p in s.paragraphs)


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage (never crossing a section boundary) or an essay's byline record."""

    id: str
    text: str
    essay_id: str
    title: str
    author: str
    affiliation: str
    section: str
    section_index: int
    paragraph_start: int
    paragraph_end: int
    char_start: int
    char_end: int
    source: str
    kind: str = "passage"  # "passage" (text of a section) or "byline" (title, author, affiliation, source)

    def metadata(self) -> dict[str, str | int]:
        """Flat metadata for the vector store."""
        d = asdict(self)
        del d["text"], d["id"]
        return d

    @property
    def label(self) -> str:
        """Human citation label: 〔作者《标题》·章节〕."""
        return f"〔{self.author}《{self.title}》·{self.section}〕"

    @property
    def is_byline(self) -> bool:
        """True for an essay's byline record (its offsets point nowhere in the essay text)."""
        return self.kind == "byline"


@dataclass(frozen=True)
class Sentence:
    """One sentence of an essay with its position (offsets into Essay.text) and its list-item number."""

    essay_id: str
    section_index: int
    paragraph: int
    start: int
    end: int
    text: str
    ordinal: int  # 1 for 一是, 2 for 二是 …, rag.lists.LAST for 最后, 0 when not a list item


@dataclass(frozen=True)
class Hit:
    """A chunk found for a query, with its fused score and the per-retriever evidence."""

    chunk: Chunk
    score: float
    dense: float | None = None
    lexical: float | None = None
    rank: int = 0


@dataclass(frozen=True)
class PartScore:
    """A sub-passage of a retrieved chunk (about a sentence) and its embedding's cosine with the question."""

    essay_id: str
    start: int  # offsets into the essay text
    end: int
    score: float


@dataclass(frozen=True)
class Turn:
    """One message of a conversation."""

    role: Literal["user", "assistant"]
    content: str

    @staticmethod
    def list_from(value: Any) -> list[Turn]:
        """Turns from JSON-like data: [{"role": "user"|"assistant", "content": "..."}, ...]; anything else is
        skipped (a history is context, so a malformed entry should not cost the user the answer)."""
        if not isinstance(value, list):
            return []
        return [Turn(t["role"], t["content"]) for t in value
                if isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str)]


@dataclass(frozen=True)
class Citation:
    """A source the answer cites: marker number, the chunk, and whether the citing sentences are supported."""

    n: int
    chunk: Chunk
    supported: bool = True
    sentences: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by `ask --json` and the UI."""
        return {
            "n": self.n,
            "author": self.chunk.author,
            "title": self.chunk.title,
            "section": self.chunk.section,
            "chunk_id": self.chunk.id,
            "text": self.chunk.text,
            "supported": self.supported,
            "sentences": list(self.sentences),
        }


@dataclass(frozen=True)
class Delta:
    """A piece of streamed answer text."""

    text: str
    # "generating" on the empty piece sent once the sources are chosen and a model is asked (its first token can
    # take tens of seconds on a local model): a page can say so at once. Readers of `text` alone lose nothing.
    stage: str = ""


@dataclass
class Answer:
    """The final structured result of one question."""

    question: str
    standalone_question: str
    answer: str
    refused: bool
    citations: list[Citation]
    retrieved: list[Hit]
    backend: str
    model: str
    usage: dict[str, int] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    notice: str = ""
    error: str = ""
    # the streamed text was withdrawn (it failed the checks): show `answer` in its place
    replaced: bool = False
    premise: dict[str, str] = field(default_factory=dict)  # a contradicted premise: claim, status, explanation

    def to_dict(self) -> dict[str, Any]:
        """The `ask --json` shape."""
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [
                {
                    "chunk_id": h.chunk.id,
                    "author": h.chunk.author,
                    "title": h.chunk.title,
                    "section": h.chunk.section,
                    "score": round(h.score, 4),
                    "text": h.chunk.text,
                }
                for h in self.retrieved
            ],
            "backend": self.backend,
            "model": self.model,
            "usage": self.usage,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "notice": self.notice,
            "error": self.error,
            "replaced": self.replaced,
            "premise": self.premise or None,
        }
