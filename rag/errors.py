"""The product's exceptions: one meaning per class, each with a message a user can act on."""

from __future__ import annotations


class PolicyQAError(Exception):
    """Base class: the message is one readable sentence, safe to show to a user."""


class ConfigError(PolicyQAError):
    """A setting is missing or invalid; the message names the environment variable to fix."""


class CorpusError(PolicyQAError):
    """A corpus file cannot be read or parsed."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class StoreError(PolicyQAError):
    """The search index is missing, corrupt, locked or built with another embedding model."""


class StoreBusyError(StoreError):
    """Another process is writing the index."""


class StoreDamagedError(StoreError):
    """The embedded store's files fail SQLite's own check: derived data to move aside and rebuild."""


class StoreReadOnlyError(StoreError):
    """The data folder is read-only: the index can be searched, not written."""


class InputError(PolicyQAError):
    """The user's question is empty, too long or otherwise unusable."""


class LLMError(PolicyQAError):
    """The language-model endpoint failed; `partial` keeps any text already streamed."""

    def __init__(self, message: str, partial: str = "") -> None:
        super().__init__(message)
        self.partial = partial


class LLMConfigError(LLMError):
    """Bad key, forbidden or unknown model: the user must fix a setting."""


class LLMRateLimitError(LLMError):
    """The endpoint is rate limiting and asked to wait longer than we are willing to."""


class LLMTimeoutError(LLMError):
    """The endpoint did not answer within the configured bound."""


class LLMUnavailableError(LLMError):
    """The endpoint cannot be reached or failed with a server error."""


class LLMStreamError(LLMError):
    """The answer stream broke off midway."""
