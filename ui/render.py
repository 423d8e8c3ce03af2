"""Pure presentation for the browser page: answer HTML with clickable citations, source cards, Markdown export.

Everything the model or the corpus produced is escaped here before it reaches the page, so answer text can never
inject markup, scripts or outside image URLs (the Chatbot's own sanitizer is a second layer, not the first).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import prompts
from rag.types import Answer, Chunk, Citation, Essay, Hit

# [1]  [1,2]  [1、2]  【1】  ［1］ — the answer prompt asks for [n]; the others are what models drift to.
MARKER = re.compile(r"[\[【［]\s*(\d{1,2}(?:\s*[,，、]\s*\d{1,2})*)\s*[\]】］]")
SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")
UNSUPPORTED_TEXT = "（未核实）"
OFFLINE_LABEL = "离线摘录模式"


@dataclass(frozen=True)
class Exchange:
    """One question of the conversation and what came back: an answer, or a readable error."""

    question: str
    answer: Answer | None = None
    error: str = ""
    partial: str = ""


def escape_text(text: str) -> str:
    """Escape model or corpus text for the Markdown/HTML chat: no tags, no links, no images survive."""
    out = html.escape(text, quote=True)
    # Markdown would still turn these into links or images; backslash-escape the brackets that start them.
    out = out.replace("![", "!\\[").replace("](", "]\\(")
    # No scheme or www. survives as text Markdown would auto-link: answers never carry clickable outside URLs.
    out = re.sub(r"(?i)\b(javascript|data|vbscript|https?|ftp|file):", r"\1&#58;", out)
    out = re.sub(r"(?i)\bwww\.", "www&#46;", out)
    return out.replace("\n", "  \n")


def marker_numbers(text: str) -> list[int]:
    """The citation numbers a piece of answer text refers to, in order of first use."""
    seen: list[int] = []
    for match in MARKER.finditer(text):
        for n in re.split(r"[,，、]", match.group(1)):
            value = int(n)
            if value not in seen:
                seen.append(value)
    return seen


def _sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(text) if s]


def _bigrams(text: str) -> set[str]:
    compact = re.sub(r"\s+|[\[【［]\d+[\]】］]", "", text)
    return {compact[i:i + 2] for i in range(len(compact) - 1)}


def cited_spans(chunk_text: str, sentences: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans of the passage to highlight: each cited sentence verbatim, else its closest passage sentence."""
    spans: list[tuple[int, int]] = []
    passage_sentences: list[tuple[int, int]] = []
    pos = 0
    for s in _sentences(chunk_text):
        passage_sentences.append((pos, pos + len(s)))
        pos += len(s)
    for sentence in sentences:
        clean = MARKER.sub("", sentence).replace(UNSUPPORTED_TEXT, "").strip()
        if not clean:
            continue
        start = chunk_text.find(clean)
        if start >= 0:
            spans.append((start, start + len(clean)))
            continue
        wanted = _bigrams(clean)
        if not wanted:
            continue
        best, best_score = None, 0.0
        for a, b in passage_sentences:
            got = _bigrams(chunk_text[a:b])
            score = len(wanted & got) / max(len(wanted), 1)
            if score > best_score:
                best, best_score = (a, b), score
        # Below a third of shared bigrams the "closest" sentence is a guess; highlighting it would mislead.
        if best is not None and best_score >= 0.34:
            spans.append(best)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def passage_html(chunk: Chunk, sentences: Sequence[str] = ()) -> str:
    """The passage text, escaped, with the cited sentences wrapped in <mark>."""
    text = chunk.text
    parts: list[str] = []
    pos = 0
    for a, b in cited_spans(text, sentences):
        parts.append(html.escape(text[pos:a]))
        parts.append(f'<mark class="pq-hl">{html.escape(text[a:b])}</mark>')
        pos = b
    parts.append(html.escape(text[pos:]))
    return "".join(parts).replace("\n", "<br>")


def source_label(chunk: Chunk) -> str:
    """Author, title and section as plain text: 作者《标题》· 章节."""
    return f"{chunk.author}《{chunk.title}》· {chunk.section}"


def _paragraphs(chunk: Chunk) -> str:
    if chunk.is_byline:  # a byline record is no paragraph of the text
        return "署名"
    a, b = chunk.paragraph_start + 1, chunk.paragraph_end + 1
    return f"第 {a} 段" if b <= a else f"第 {a}–{b} 段"


def _snippet(chunk: Chunk, sentences: Sequence[str] = (), size: int = 46) -> str:
    spans = cited_spans(chunk.text, sentences)
    start = spans[0][0] if spans else 0
    text = " ".join(chunk.text[start:].split())
    return html.escape(text if len(text) <= size else text[:size] + "…")


def _summary(n: str, chunk: Chunk, sentences: Sequence[str], flag: str, number_class: str = "pq-n") -> str:
    return (
        f'<summary><span class="{number_class}">{n}</span><span class="pq-head">'
        f'<span class="pq-label">{html.escape(source_label(chunk))}</span>'
        f'<span class="pq-para">{_paragraphs(chunk)}</span>{flag}'
        f'<span class="pq-snippet">{_snippet(chunk, sentences)}</span></span></summary>'
    )


def _citation_card(c: Citation, key: str, open_: bool = False) -> str:
    flag = "" if c.supported else '<span class="pq-badge pq-badge-warn">未核实</span>'
    state = " open" if open_ else ""
    extra = "" if c.supported else " pq-source-unsupported"
    # The Chatbot's sanitizer drops data-* attributes but keeps classes, so the citation link lives in a class.
    return (
        f'<details class="pq-source pq-ref-{key}-{c.n}{extra}"{state}>'
        f"{_summary(str(c.n), c.chunk, c.sentences, flag)}"
        f'<div class="pq-passage">{passage_html(c.chunk, c.sentences)}</div>'
        f"{_affiliation(c.chunk)}</details>"
    )


def _affiliation(chunk: Chunk) -> str:
    # Labelled: unlabelled, the affiliation under a quote reads as part of the quoted passage.
    if not chunk.affiliation:
        return ""
    return (f'<div class="pq-meta"><span class="pq-meta-label">作者单位</span>'
            f"{html.escape(chunk.author)}：{html.escape(chunk.affiliation)}</div>")


def _answer_body(answer_text: str, citations: Sequence[Citation], key: str) -> str:
    by_n = {c.n: c for c in citations}
    unsupported = {c.n for c in citations if not c.supported}
    out: list[str] = []
    for sentence in _sentences(answer_text):
        numbers = marker_numbers(sentence)
        body = escape_text(sentence)

        def link(match: re.Match[str]) -> str:
            links = []
            for raw in re.split(r"[,，、]", match.group(1)):
                n = int(raw)
                c = by_n.get(n)
                if c is None:
                    links.append(f'<sup class="pq-cite pq-cite-missing">[{n}]</sup>')
                    continue
                title = html.escape(source_label(c.chunk), quote=True)
                links.append(f'<sup class="pq-cite pq-ref-{key}-{n}" title="{title}">[{n}]</sup>')
            return "".join(links)

        # Markers are matched on the escaped text: the marker characters are untouched by escaping.
        body = MARKER.sub(link, body)
        body = body.replace(html.escape(UNSUPPORTED_TEXT), "")
        if (numbers and any(n in unsupported for n in numbers)) or UNSUPPORTED_TEXT in sentence:
            body = (f'<span class="pq-unsupported" title="引文中未找到这句话的依据">{body}'
                    f'<span class="pq-badge pq-badge-warn">未核实</span></span>')
        out.append(body)
    return "".join(out)


REPLACED_NOTE = prompts.phrase("replaced_marker")


def scope_label(essays: Sequence[Essay], essay: str | None = None, author: str | None = None) -> str:
    """The active filter in words (作者《标题》, or an author's name); empty when the whole corpus is searched."""
    chosen = next((e for e in essays if essay and e.id == essay), None)
    if chosen is not None:
        return essay_label(chosen)
    return f"{author}的文章" if author else ""


def essay_label(essay: Essay) -> str:
    """An essay as readers name it: 作者《标题》."""
    return f"{essay.author}《{essay.title}》"


def answer_html(answer: Answer, key: str, scope: str = "") -> str:
    """The final chat message: the scope if filtered, the answer with clickable markers, then one collapsed
    group holding the cited passages (the only place they are shown in full)."""
    parts: list[str] = []
    if scope:
        parts.append(f'<div class="pq-notice pq-scope">检索范围：{escape_text(scope)}</div>\n\n')
    if answer.standalone_question and answer.standalone_question.strip() != answer.question.strip():
        parts.append(f'<div class="pq-notice pq-rewritten">按上下文理解为：{escape_text(answer.standalone_question)}</div>\n\n')
    if answer.replaced:  # the streamed model text was withdrawn: say so where it stood
        parts.append(f'<div class="pq-notice pq-replaced">{escape_text(REPLACED_NOTE)}</div>\n\n')
    if answer.notice:
        parts.append(f'<div class="pq-notice">{escape_text(answer.notice)}</div>\n\n')
    parts.append(_answer_body(answer.answer, answer.citations, key))
    if answer.error:
        parts.append(f'\n\n<div class="pq-error">{escape_text(answer.error)}</div>')
    if answer.citations:
        cards = "".join(_citation_card(c, key) for c in answer.citations)
        authors = "、".join(dict.fromkeys(c.chunk.author for c in answer.citations if c.chunk.author))
        head = f"引用原文 {len(answer.citations)} 段" + (f" · {html.escape(authors)}" if authors else "")
        parts.append(f'\n\n<details class="pq-sources-inline"><summary class="pq-sources-head">{head}'
                     f'<span class="pq-sources-hint">点击 [n] 或此处展开</span></summary>{cards}</details>')
    return "".join(parts)


def thinking_html(stage: str = "") -> str:
    """The placeholder shown at once, before any answer text: searching, then (with a model) generating."""
    label = "正在生成回答…" if stage == "generating" else "正在检索原文…"
    return f'<span class="pq-thinking"><span class="pq-spinner"></span>{label}</span>'



def streaming_html(text: str) -> str:
    """A partial answer while it streams in: escaped, markers shown but not yet linked."""
    return escape_text(text) + '<span class="pq-caret"></span>'


def error_html(message: str, partial: str = "") -> str:
    """A readable error in the chat, keeping any partial answer above it."""
    body = f'<div class="pq-error">{escape_text(message)}</div>'
    if partial:
        return escape_text(partial) + "\n\n" + body
    return body


def sources_panel_html(answer: Answer | None, key: str = "") -> str:
    """The side panel: the retrieved passages the current answer did not cite (the cited ones sit under it)."""
    if answer is None:
        return ('<div class="pq-empty">回答引用的原文段落列在回答下方：点击回答中的 [1] 展开，被引用的句子会高亮。'
                "这里列出检索到、但回答没有引用的其他段落。</div>")
    cited = {c.chunk.id for c in answer.citations}
    others = [h for h in answer.retrieved if h.chunk.id not in cited]
    parts = []
    if answer.citations:
        parts.append(f'<div class="pq-note">本次回答引用了 {len(answer.citations)} 段原文，见回答下方。</div>')
    if others:
        parts.append('<div class="pq-panel-title">其他检索到的段落</div>')
        parts.extend(_hit_card(h) for h in others)
    elif not answer.citations:
        parts.append('<div class="pq-empty">这次没有检索到相关段落。</div>')
    return "".join(parts)


def _hit_card(hit: Hit) -> str:
    return (
        f'<details class="pq-source pq-source-other">{_summary("·", hit.chunk, (), "", "pq-n pq-n-other")}'
        f'<div class="pq-passage">{passage_html(hit.chunk)}</div></details>'
    )


def status_html(answer: Answer | None, ready: str = "") -> str:
    """One status line: backend and model, retrieval and generation time."""
    if answer is None:
        return f'<div class="pq-status">{html.escape(ready)}</div>'
    if answer.backend == "extractive":
        engine = OFFLINE_LABEL
    else:
        engine = f"{answer.backend} · {answer.model}" if answer.model else answer.backend
    items = [f'<span class="pq-engine">{html.escape(engine)}</span>']
    t = answer.timings_ms
    for key, label in (("retrieve", "检索"), ("generate", "生成"), ("total", "合计")):
        value = t.get(key, t.get(f"{key}_ms"))
        if value is not None:
            items.append(f"<span>{label} {_ms(value)}</span>")
    if answer.refused:
        items.append('<span class="pq-badge">文章未涉及</span>')
    return '<div class="pq-status">' + '<span class="pq-dot">·</span>'.join(items) + "</div>"


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def outline_html(essay: Essay) -> str:
    """One essay's card in the corpus panel: title, author, affiliation and section list."""
    sections = "".join(
        f"<li>{html.escape(s.title)}<span class=\"pq-count\">{len(s.paragraphs)} 段</span></li>"
        for s in essay.sections
    )
    return (
        f'<div class="pq-essay"><div class="pq-essay-title">《{html.escape(essay.title)}》</div>'
        f'<div class="pq-essay-author">{html.escape(essay.author)}'
        f'<span class="pq-essay-aff">{html.escape(essay.affiliation)}</span></div>'
        f'<ol class="pq-sections">{sections}</ol></div>'
    )


def conversation_markdown(exchanges: Iterable[Exchange], title: str = "政策文章问答 · 对话记录") -> str:
    """The conversation as Markdown, each answer's citations as numbered footnotes with the passage quoted."""
    lines = [f"# {title}", ""]
    footnote = 0
    for i, ex in enumerate(exchanges, 1):
        lines += [f"## 问题 {i}", "", ex.question.strip(), ""]
        if ex.answer is None:
            if ex.partial:
                lines += [ex.partial.strip(), ""]
            lines += [f"> {ex.error}", ""]
            continue
        a = ex.answer
        mapping: dict[int, int] = {}
        for c in a.citations:
            footnote += 1
            mapping[c.n] = footnote

        def to_footnote(match: re.Match[str], mapping: dict[int, int] = mapping) -> str:
            return "".join(
                f"[^{mapping[int(n)]}]" if int(n) in mapping else f"[{n}]"
                for n in re.split(r"[,，、]", match.group(1))
            )

        lines += ["**回答**", ""]
        if a.notice:
            lines += [f"*{a.notice}*", ""]
        lines += [MARKER.sub(to_footnote, a.answer).strip(), ""]
        if a.error:
            lines += [f"> {a.error}", ""]
        for c in a.citations:
            quote = " ".join(c.chunk.text.split())
            flag = "（未核实）" if not c.supported else ""
            lines.append(f"[^{mapping[c.n]}]: {source_label(c.chunk)}{flag}：“{quote}”")
        if a.citations:
            lines.append("")
        engine = OFFLINE_LABEL if a.backend == "extractive" else f"{a.backend} {a.model}".strip()
        lines += [f"<sub>{engine}</sub>", ""]
    return "\n".join(lines).rstrip() + "\n"
