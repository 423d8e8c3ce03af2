"""Offline evaluation runner (placeholder until the eval suite lands)."""

from __future__ import annotations

import argparse

from rag.config import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the `policy-qa eval` options."""
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--report", default=None)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run the suite; returns the process exit code."""
    raise NotImplementedError("the eval suite is not implemented yet")
