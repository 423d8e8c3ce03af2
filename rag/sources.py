"""The sources block of a generation prompt: every field fenced as data, passages cut to a token budget.

Retrieved text is untrusted (a document, its file name or its headings can carry instructions), so each field
that reaches the prompt (author, title, section, passage) goes through `fence`: look-alike delimiters such as
`［资料 1 结束］` or `【资料\u20021\u2002结束】` are turned into harmless brackets, and a field cannot start a new line.
For small local models the block is also budgeted: only the sentences of each passage that share words with the
question, and only as many passages as fit (`budget_passages`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag import citations as cit
from rag.tokens import count_tokens
from rag.types import Hit

# Any bracket-like opener (ASCII, full-width, small and vertical forms, CJK lenticular/tortoise/corner) followed,
# after any kind of space (en space, ideographic space, zero-width), by one of our delimiter words: the prompt's
# own fences are 【资料 n 开始】/【资料 n 结束】 and 【对话开始】. The replacement brackets 〖〗 are not openers.
_OPEN = "【［[〔〘「『《〈<（(﹝︻︹﹁﹃"
_CLOSE = "】］]〕〙」』》〉>）)﹞︼︺﹂﹄"
_SPACE = r"[\s\u2000-\u200f\u3000\ufeff]*"
_DELIM_WORD = rf"(?:资{_SPACE}料|資{_SPACE}料|对{_SPACE}话|對{_SPACE}話|来{_SPACE}源|來{_SPACE}源)"
_OPEN_DELIM = re.compile(rf"[{re.escape(_OPEN)}]{_SPACE}(?={_DELIM_WORD})")
_CLOSE_DELIM = re.compile(rf"(开{_SPACE}始|開{_SPACE}始|结{_SPACE}束|結{_SPACE}束){_SPACE}[{re.escape(_CLOSE)}]")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")


def fence(text: str, *, one_line: bool = False) -> str:
    """Text that cannot open or close one of the prompt's delimiters (and, for a field, cannot add a line)."""
    text = _INVISIBLE.sub("", text)
    text = _OPEN_DELIM.sub("〖", text)
    text = _CLOSE_DELIM.sub(lambda m: m.group(1) + "〗", text)
    if one_line:
        text = _LINE_BREAKS.sub(" ", text).strip()
    return text


def source_block(n: int, author: str, title: str, section: str, text: str) -> str:
    """One numbered source, every field fenced."""
    return (f"【资料 {n} 开始】\n作者：{fence(author, one_line=True)}\n标题：《{fence(title, one_line=True)}》\n"
            f"章节：{fence(section, one_line=True)}\n内容：{fence(text)}\n【资料 {n} 结束】")


def format_sources(hits: Sequence[Hit], start: int = 1, texts: Sequence[str] | None = None) -> str:
    """The numbered, fenced sources; `texts` replaces the passages' bodies (budgeted excerpts)."""
    blocks = []
    for i, h in enumerate(hits):
        c = h.chunk
        body = texts[i] if texts is not None else c.text
        blocks.append(source_block(start + i, c.author, c.title, c.section, body))
    return "\n\n".join(blocks)


_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;\n]*")
_QUESTION_WORDS = re.compile(r"什么|哪些|哪几|怎样|怎么|如何|为什么|为何|是否|文章|作者|认为|提到|指出|主要|有关|关于|的|了|吗|呢|是")
# Per block: the fence lines and field names cost about this many tokens (measured with cl100k on the seeds).
_BLOCK_OVERHEAD = 30


@dataclass(frozen=True)
class Budgeted:
    """The passages that fit a budget: how many of the hits, their excerpts and the tokens they take."""

    hits: list[Hit]
    texts: list[str]
    tokens: int


def _grams(text: str) -> set[str]:
    s = re.sub(r"[\W_]", "", text)
    return {s[i:i + 2] for i in range(len(s) - 1)}


def excerpt(passage: str, question: str, budget: int) -> str:
    """The passage's sentences that share words with the question, in reading order, within `budget` tokens."""
    sentences = [s for s in _SENTENCE.findall(passage) if s.strip()]
    if count_tokens(passage) <= budget or len(sentences) <= 1:
        return passage if count_tokens(passage) <= budget else _cut(passage, budget)
    wanted = _grams(_QUESTION_WORDS.sub(" ", question))
    # the first sentence often names the topic (a heading-like lead): ties go to earlier sentences
    ranked = sorted(range(len(sentences)), key=lambda i: (-len(_grams(sentences[i]) & wanted), i))
    chosen: set[int] = set()
    used = 0
    for i in ranked:
        t = count_tokens(sentences[i])
        if used + t > budget:
            if not chosen:
                return _cut(sentences[i], budget)
            continue
        chosen.add(i)
        used += t
    return "".join(sentences[i] for i in sorted(chosen)).strip()


def _cut(text: str, budget: int) -> str:
    """The longest prefix of `text` within `budget` tokens."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_tokens(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


def budget_passages(hits: Sequence[Hit], question: str, total: int, per_passage: int,
                    max_passages: int) -> Budgeted:
    """The best hits, each cut to its question-relevant sentences, while they fit `total` tokens."""
    kept: list[Hit] = []
    texts: list[str] = []
    used = 0
    for h in hits[:max_passages]:
        text = excerpt(h.chunk.text, question, per_passage)
        t = count_tokens(text) + _BLOCK_OVERHEAD
        if kept and used + t > total:
            break
        kept.append(h)
        texts.append(text)
        used += t
    return Budgeted(kept, texts, used)


# The local backend's source budget (cl100k tokens). The packaged 1.5B model on xllamacpp reads a prompt at
# about 73 tokens/s on 2 cores and its tokenizer needs about 0.55 tokens per cl100k token of Chinese: 400
# tokens of sources plus the question and instructions come to about 4 s before the first token, where six
# whole passages (550-1,850 new tokens) took 40-47 s on a busy machine.
LOCAL_SOURCE_TOKENS = 400
LOCAL_PASSAGE_TOKENS = 130  # one passage's share: its two or three sentences nearest the question
LOCAL_MAX_PASSAGES = 4


def source_budget(source_tokens: int, backend: str) -> int:
    """The sources' token budget: POLICY_QA_SOURCE_TOKENS, else LOCAL_SOURCE_TOKENS for the local model, else
    none (an endpoint reads whole passages quickly)."""
    if source_tokens:
        return source_tokens
    return LOCAL_SOURCE_TOKENS if backend == "local" else 0


# A passage of a topic answer (every passage kept, one group per author) gets at least this many tokens.
TOPIC_PASSAGE_TOKENS = 40


def prompt_sources(hits: Sequence[Hit], question: str, budget: int, keep_all: bool = False) -> str:
    """The sources block for a question: whole passages, or with a budget the best excerpts that fit.
    `keep_all` (a topic across essays, grouped by author) keeps every passage and shares the budget out."""
    if budget <= 0:
        return format_sources(hits)
    if keep_all and hits:
        per_passage = max(TOPIC_PASSAGE_TOKENS, budget // len(hits))
        return format_sources(hits, texts=[excerpt(h.chunk.text, question, per_passage) for h in hits])
    per = min(budget, max(LOCAL_PASSAGE_TOKENS, budget // LOCAL_MAX_PASSAGES))
    chosen = budget_passages(hits, question, budget, per, max(LOCAL_MAX_PASSAGES, budget // per))
    return format_sources(chosen.hits, texts=chosen.texts)


# The composer's lead-in (“李晓华在《…》中提出：”) names what the source block's fields already say.
# The offline answer's own framing, not the essays' words: its attribution (X在《…》中指出：), a heading (几位作者的
#相关论述如下：) and a per-author line's lead (- 王静《…》：), which the 1.5B model copied into its answer
# (dev7.jsonl: 3 of 3 topic answers began 作者《…》：- 王静《…》：).
_LEAD = re.compile(r"^(?:[^：:\n]{0,40}在《[^》]+》中(?:提出|指出)[：:]|(?:[^\n]{0,30}如下[：:]\s*)?[-•]\s*[^：:\n《]{0,20}《[^》]+》[：:])")


def composed_sources(text: str, hits: Sequence[Hit], budget: int) -> Budgeted:
    """Sources made of the sentences the extractive composer quoted for this question, grouped by the passage
    each comes from, in the composer's order, within `budget` tokens: for a small model, the sentences that
    answer (a whole list, an item's how-to) instead of the passage sentences nearest the question's words."""
    per: dict[int, list[str]] = {}
    for sentence, nums in cit.split_cited_sentences(text):
        body = _LEAD.sub("", sentence).strip()
        for n in nums[:1]:  # a sentence is shown once, under the first passage it cites
            if 1 <= n <= len(hits) and body and body not in per.setdefault(n, []):
                per[n].append(body)
    kept: list[Hit] = []
    texts: list[str] = []
    used = 0
    for n, sentences in per.items():
        body = "".join(sentences)
        t = count_tokens(body) + _BLOCK_OVERHEAD
        if kept and used + t > budget:
            body = _cut(body, budget - used - _BLOCK_OVERHEAD) if budget - used > 2 * _BLOCK_OVERHEAD else ""
            if not body:
                break
            t = count_tokens(body) + _BLOCK_OVERHEAD
        kept.append(hits[n - 1])
        texts.append(body)
        used += t
    return Budgeted(kept, texts, used)
