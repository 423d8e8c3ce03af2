"""A long-running process's view of the index: it follows the newest published generation by itself.

    live = LiveAssistant.from_settings(Settings.from_env())   # what `serve` and `ask -` answer with
    live.ask("什么是产业韧性？")                               # each question checks for a newer generation first

A writer (`policy-qa ingest`, in any process) publishes a generation and replaces `index/generation.json`. Each
request stats that file (a few microseconds); when it changed, the request reads the pointer and reopens the
Retriever and the Assistant over the new generation (about a second for the seed index), while requests already
running finish on the old one, which the store keeps for POLICY_QA_KEEP_GENERATIONS_S. Readers take no lock. A
store on a Chroma server has no such file: its pointer is read at most every POLL_S seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from rag.answer import Assistant
from rag.config import Settings
from rag.index import open_generation, open_index
from rag.retrieve import Retriever
from rag.store import IndexInfo, Store, generation_signature
from rag.types import Answer, Delta, Essay, Turn

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
POLL_S = 1.0  # pointer reads against a Chroma server (2-3 ms each) at most once a second


class LiveIndex:
    """Hands out the Retriever of the newest published generation, reopening it when a writer published another."""

    def __init__(self, settings: Settings, retriever: Retriever, info: IndexInfo,
                 signature: tuple[int, int, int] | None) -> None:
        self.settings = settings
        self._retriever = retriever
        self._info = info
        self._signature = signature
        self._checked = time.monotonic()
        self._reopening = threading.Lock()  # only one request reopens; the others keep answering meanwhile
        self._store: Store | None = None
        self.reloads = 0

    @classmethod
    def open(cls, settings: Settings, progress: Progress | None = None) -> LiveIndex:
        """Open (building when needed) the index and start following it."""
        signature = generation_signature(settings)  # taken first: a switch during the open is seen next time
        retriever, info = open_index(settings, progress)
        return cls(settings, retriever, info, signature)

    @property
    def generation(self) -> str:
        """The name of the generation the current Retriever reads."""
        return self._info.collection

    def current(self) -> Retriever:
        """The Retriever of the newest generation: cheap when nothing changed, a reopen when something did."""
        if not self._changed():
            return self._retriever
        if not self._reopening.acquire(blocking=False):
            return self._retriever  # another request is reopening right now
        try:
            signature = generation_signature(self.settings)
            store = self._store or Store(self.settings)
            self._store = store
            info = store.current()
            if info is not None and info.collection != self._info.collection:
                embedder = self._retriever.embedder  # the loaded model is reused, never reloaded
                self._retriever = open_generation(self.settings, store, embedder, info)
                self.reloads += 1
                log.info("index switched to %s", info.collection)
            if info is not None:
                self._info = info
            self._signature = signature
            self._checked = time.monotonic()
        except Exception:  # noqa: BLE001 - a failed reopen keeps the generation we have; the next request retries
            log.exception("reopening the index failed; still serving %s", self._info.collection)
        finally:
            self._reopening.release()
        return self._retriever

    def _changed(self) -> bool:
        signature = generation_signature(self.settings)
        if signature is not None or self._signature is not None:
            return signature != self._signature
        return time.monotonic() - self._checked >= POLL_S  # no generation file: poll the pointer


class LiveAssistant:
    """An Assistant that answers from the newest generation: it is rebuilt over a new Retriever when one appears."""

    def __init__(self, index: LiveIndex, assistant: Assistant) -> None:
        self.index = index
        self._assistant = assistant
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, backend: str | None = None,
                      progress: Progress | None = None) -> LiveAssistant:
        """Open the live index and the chat model the settings (or `backend`) ask for."""
        index = LiveIndex.open(settings, progress)
        return cls(index, Assistant.from_settings(settings, backend=backend, progress=progress,
                                                  retriever=index.current()))

    @property
    def assistant(self) -> Assistant:
        """The Assistant over the newest generation."""
        retriever = self.index.current()
        if retriever is not self._assistant.retriever:
            with self._lock:
                if retriever is not self._assistant.retriever:
                    self._assistant = self._assistant.with_retriever(retriever)
        return self._assistant

    @property
    def generation(self) -> str:
        """The generation the answers come from (changes after an ingest anywhere)."""
        self.assistant  # noqa: B018 - follow a switch before naming it
        return self.index.generation

    @property
    def essays(self) -> list[Essay]:
        """The essays of the newest generation."""
        return self.assistant.essays

    @property
    def backend(self) -> str:
        """The generating backend."""
        return self._assistant.backend

    @property
    def retriever(self) -> Retriever:
        """The newest generation's Retriever."""
        return self.assistant.retriever  # type: ignore[return-value]

    def stream(self, question: str, history: Sequence[Turn] = (), author: str | None = None,
               essay: str | None = None) -> Iterator[Delta | Answer]:
        """Assistant.stream on the newest generation (one generation for the whole answer)."""
        return self.assistant.stream(question, history=history, author=author, essay=essay)

    def ask(self, question: str, history: Sequence[Turn] = (), author: str | None = None,
            essay: str | None = None) -> Answer:
        """Assistant.ask on the newest generation."""
        return self.assistant.ask(question, history=history, author=author, essay=essay)

    def render_references(self, answer: Answer) -> str:
        """Assistant.render_references."""
        return self._assistant.render_references(answer)
