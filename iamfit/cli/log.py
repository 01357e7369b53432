"""Warnings the core logs (``logging.getLogger("iamfit...")``) reach the user as ``iamfit: warning: ...`` lines."""

from __future__ import annotations

import logging

import click


class StderrWarnings(logging.Handler):
    """Writes each record as one ``iamfit: warning:`` line on the current stderr (click's, so CliRunner sees it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(f"iamfit: warning: {' '.join(record.getMessage().split())}", err=True)
        except Exception:  # noqa: BLE001 - logging must never break a command
            self.handleError(record)


def log_warnings_to_stderr() -> None:
    """Install the handler on the ``iamfit`` logger once (warnings and above; records still propagate)."""
    logger = logging.getLogger("iamfit")
    if not any(isinstance(h, StderrWarnings) for h in logger.handlers):
        logger.addHandler(StderrWarnings(logging.WARNING))
