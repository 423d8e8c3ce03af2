"""Quoting sentences with `[n]` markers: which retrieved hits hold a sentence, and where its marker goes.

Every offline answer (rag.extractive, rag.items) quotes the essays' own sentences through these functions, so a
marker always points at a hit whose chunk holds the sentence (a chunk not yet retrieved is added to the hits).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.sentences import Sentence, SentenceIndex
from rag.types import Chunk, Hit

ChunkLookup = Callable[[str, int, int], Chunk | None]


def span(chunk: Chunk, index: SentenceIndex) -> tuple[int, int]:
    """Where a chunk's text sits in its essay's text (found again if the offsets drifted)."""
    essay = index.essays.get(chunk.essay_id)
    if essay is None:
        return chunk.char_start, chunk.char_end
    if essay.text[chunk.char_start:chunk.char_end] == chunk.text:
        return chunk.char_start, chunk.char_end
    at = essay.text.find(chunk.text[:40])
    return (at, at + len(chunk.text)) if at >= 0 else (chunk.char_start, chunk.char_end)


def cite(text: str, ns: Sequence[int]) -> str:
    """Put the markers before the sentence's closing punctuation, or after a closing quotation mark (…发展。”[1]),
    so that a quotation is never split by its own citation."""
    marks = "".join(f"[{n}]" for n in ns)
    m = re.search(r"[。！？!?；;]*[”’」』）)]*$", text)
    cut = m.start() if m else len(text)
    tail = text[cut:] or "。"
    if re.search(r"[”’」』]", tail):
        return f"{text}{marks}"
    return f"{text[:cut]}{marks}{tail}"


def hits_for(sentence: Sentence, hits: list[Hit], index: SentenceIndex, lookup: ChunkLookup | None) -> list[int]:
    """1-based numbers of the hits whose chunks hold the sentence; chunks not yet retrieved are added to hits."""
    found: list[int] = []
    covered = 0
    for i, h in enumerate(hits, 1):
        if h.chunk.essay_id != sentence.essay_id:
            continue
        a, b = span(h.chunk, index)
        overlap = min(b, sentence.end) - max(a, sentence.start)
        if overlap > 0 and not any(hits[j - 1].chunk.id == h.chunk.id for j in found):
            found.append(i)
            covered += overlap
    length = sentence.end - sentence.start
    if covered >= 0.9 * length or lookup is None:
        return found
    pos = sentence.start
    while pos < sentence.end:
        chunk = lookup(sentence.essay_id, pos, pos + 1)
        if chunk is None:
            break
        if not any(hits[j - 1].chunk.id == chunk.id for j in found):
            idx = next((i for i, h in enumerate(hits, 1) if h.chunk.id == chunk.id), 0)
            if not idx:
                hits.append(Hit(chunk=chunk, score=0.0, rank=len(hits) + 1))
                idx = len(hits)
            found.append(idx)
        a, b = span(chunk, index)
        pos = max(b, pos + 1)
    return sorted(found, key=lambda j: span(hits[j - 1].chunk, index)[0])


def close_clause(text: str) -> str:
    """A clause ending in ； or ， shown on its own line ends like a sentence."""
    return text[:-1] + "。" if text.endswith(("；", "，")) else text


def quote(parts: Sequence[Sentence], hits: list[Hit], index: SentenceIndex, lookup: ChunkLookup | None) -> str:
    """Cited quotes of sentences or clauses; a clause ending in ； closes with 。 when it ends the quote."""
    out = []
    for k, part in enumerate(parts):
        text = part.text
        if text.endswith(("；", "，")) and (k == len(parts) - 1 or parts[k + 1].start != part.end):
            text = text[:-1] + "。"
        out.append(cite(text, hits_for(part, hits, index, lookup)))
    return "".join(out)
