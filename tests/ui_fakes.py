"""A fake Assistant for the page tests: hand-made essays and chunks, queued behaviour, and a record of calls."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Read when huggingface_hub is imported (through gradio_client), so it must be set before gradio loads.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from rag.config import Settings  # noqa: E402
from rag.errors import InputError, LLMRateLimitError, LLMStreamError  # noqa: E402
from rag.types import Answer, Chunk, Citation, Delta, Essay, Hit, Section, Turn  # noqa: E402
from ui.app import Gate, build_app, launch, launch_options  # noqa: E402

RESILIENCE = ("产业韧性是指产业面对冲击时能够保持稳定运行或者能够快速恢复到正常状态的能力。"
              "全球价值链分工按照效率优先的原则，追求价值链各环节所需要素投入与全球各地区的要素供给实现最优匹配。")
TECH = ("科技水平高。科学技术是第一生产力。新型工业化的质量高，突出体现为科技水平高。"
        "产业技术水平是衡量一个国家或地区产业发展水平的重要标志。")
ECOSYSTEM = ("注重要素协同，打造产业创新生态体系。实现实体经济、科技创新、现代金融、人力资源协同发展。"
             "在科技创新上，整合各类优势科教资源。")
PLATFORM = "区域科技创新平台载体是形成新质生产力的重要物质基础。一个地区可以通过搭建各类科技创新平台载体，推动创新要素集聚。"
BASE = "加快建设现代化产业体系，需全面系统增强产业基础能力，提升产业链现代化水平。"


def _essay(eid: str, title: str, author: str, aff: str, sections: list[tuple[str, list[str]]]) -> Essay:
    return Essay(id=eid, title=title, author=author, affiliation=aff, source="seeds/000_c8df1a2c8d7c4acd.txt",
                 sections=tuple(Section(t, tuple(ps)) for t, ps in sections))


ESSAYS = [
    _essay("e1", "把握高质量发展要求推进新型工业化", "李晓华", "中国社会科学院工业经济研究所研究员",
           [("新型工业化高质量发展的特征", [TECH, RESILIENCE]), ("推动传统产业转型升级", ["传统产业是基本盘。"])]),
    _essay("e2", "全面提升产业体系现代化水平", "王静", "西北政法大学教授",
           [("注重要素协同，打造产业创新生态体系", [ECOSYSTEM])]),
    _essay("e3", "强化区域创新促新质生产力发展", "傅晋华", "中国科学技术发展战略研究院研究员",
           [("搭建科技创新平台载体", [PLATFORM])]),
    _essay("e4", "创新驱动产业基础高级化", "王成仁", "中国国际经济交流中心副研究员",
           [("全面系统增强产业基础能力", [BASE])]),
]


def _chunk(cid: str, essay: Essay, section_index: int, text: str) -> Chunk:
    return Chunk(id=cid, text=text, essay_id=essay.id, title=essay.title, author=essay.author,
                 affiliation=essay.affiliation, section=essay.sections[section_index].title,
                 section_index=section_index, paragraph_start=0, paragraph_end=0, char_start=0,
                 char_end=len(text), source=essay.source)


CHUNKS = {
    "resilience": _chunk("e1-0-1", ESSAYS[0], 0, RESILIENCE),
    "tech": _chunk("e1-0-0", ESSAYS[0], 0, TECH),
    "ecosystem": _chunk("e2-0-0", ESSAYS[1], 0, ECOSYSTEM),
    "platform": _chunk("e3-0-0", ESSAYS[2], 0, PLATFORM),
    "base": _chunk("e4-0-0", ESSAYS[3], 0, BASE),
}


@dataclass
class Call:
    """One recorded `stream` call."""

    question: str
    history: tuple[Turn, ...]
    author: str | None
    essay: str | None


@dataclass
class FakeAssistant:
    """Answers every question from the hand-made chunks; special questions raise the product's errors."""

    delay_s: float = 0.0
    piece_delay_s: float = 0.0
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def essays(self) -> list[Essay]:
        """The hand-made corpus outline."""
        return list(ESSAYS)

    def stream(self, question: str, history: Sequence[Turn] = (), author: str | None = None,
               essay: str | None = None) -> Iterator[Delta | Answer]:
        """Deltas of a fixed cited answer, then the Answer; `限流`/`中断`/`崩溃` trigger failures."""
        with self._lock:
            self.calls.append(Call(question, tuple(history), author, essay))
        if not question.strip():
            raise InputError("请输入一个关于这几篇政策文章的问题。")
        if "限流" in question:
            raise LLMRateLimitError("语言模型服务繁忙（限流），请稍后再试。")
        if "崩溃" in question:
            raise RuntimeError("secret internal detail /home/user/key")
        if self.delay_s:  # as a model backend does: the sources are chosen, then the first token takes a while
            yield Delta("", stage="generating")
            time.sleep(self.delay_s)
        text = ("产业韧性是指产业面对冲击时能够保持稳定运行或者能够快速恢复到正常状态的能力[1]。"
                "科学技术是第一生产力[2]。王静主张打造产业创新生态体系[3]。"
                "<script>alert(1)</script>![x](http://evil.example/p.png)")
        pieces = [text[i:i + 8] for i in range(0, len(text), 8)]
        if "中断" in question:
            for piece in pieces[:3]:
                yield Delta(piece)
            raise LLMStreamError("回答中断：与语言模型的连接断开了。", partial="".join(pieces[:3]))
        for piece in pieces:
            if self.piece_delay_s:
                time.sleep(self.piece_delay_s)
            yield Delta(piece)
        citations = [
            Citation(1, CHUNKS["resilience"], True,
                     ("产业韧性是指产业面对冲击时能够保持稳定运行或者能够快速恢复到正常状态的能力",)),
            Citation(2, CHUNKS["tech"], True, ("科学技术是第一生产力",)),
            Citation(3, CHUNKS["ecosystem"], False, ("王静主张打造产业创新生态体系",)),
        ]
        hits = [Hit(c.chunk, 0.9 - 0.1 * i, rank=i + 1) for i, c in enumerate(citations)]
        hits.append(Hit(CHUNKS["platform"], 0.4, rank=4))
        yield Answer(question=question, standalone_question=question, answer=text, refused=False,
                     citations=citations, retrieved=hits, backend="extractive", model="",
                     timings_ms={"retrieve": 12.3, "generate": 4.5, "total": 17.0},
                     notice="离线摘录模式：以下内容直接摘自文章原文，未经语言模型改写。")


def offline_settings(home: Path) -> Settings:
    """Offline settings over the seed essays, with their own data folder."""
    return Settings.from_env({"POLICY_QA_HOME": str(home)})


_SEED: dict[str, Any] = {}


def seed_assistant() -> Any:
    """The real offline Assistant on the seed essays, built once per test process (the index build takes ~20 s).

    Process-wide rather than a fixture: a session fixture imported into several modules is built once per module.
    """
    if "assistant" not in _SEED:
        from rag.answer import Assistant

        home = Path(tempfile.mkdtemp(prefix="policy-qa-ui-tests-"))
        atexit.register(shutil.rmtree, home, ignore_errors=True)
        _SEED["assistant"] = Assistant.from_settings(offline_settings(home))
    return _SEED["assistant"]


@contextmanager
def running_app(assistant: Any, settings: Settings, gate: Gate | None = None) -> Iterator[tuple[gr.Blocks, str]]:
    """Serve `build_app(assistant)` on 127.0.0.1 with the production launch options; yields (demo, url)."""
    demo = build_app(assistant, settings, gate)
    url = launch(demo, launch_options(settings, "127.0.0.1", None), block=False)
    try:
        yield demo, url.rstrip("/")
    finally:
        demo.close()
