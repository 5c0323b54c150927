"""Logging: a rich handler on a terminal, plain lines elsewhere; secrets are always redacted."""

from __future__ import annotations

import logging
import sys

from rich.console import Console
from rich.logging import RichHandler


class RedactSecrets(logging.Filter):
    """Replaces every configured token in a log message by ***."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


def setup_logging(verbose: bool = False, quiet: bool = False,
                  secrets: list[str] | None = None) -> Console:
    """Configure the root logger once per command; returns the stderr console for progress."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    console = Console(stderr=True)
    handler: logging.Handler
    if console.is_terminal:
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=verbose)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets or []))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Per-query chatter of the sources and libraries shows with --verbose only.
    for noisy in ("httpx", "httpcore", "prefect", "urllib3", "sonoharvest.sources",
                  "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    return console
