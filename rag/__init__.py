"""policy-qa: grounded Chinese question answering over policy essays."""

from __future__ import annotations

__version__ = "0.1.0"
