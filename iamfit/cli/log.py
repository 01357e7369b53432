"""What the core logs (``logging.getLogger("iamfit...")``) reaches the user as one line each on stderr.

Without ``-v`` only warnings and above, as ``iamfit: warning: ...`` lines; ``-v`` adds ``iamfit: info: ...``
(what was read, each AWS call, each discovery step), ``-vv`` adds ``iamfit: debug: <module>: ...`` (which
knowledge rule fired, retries' details).
"""

from __future__ import annotations

import logging

import click

_ROOT = "iamfit"


class StderrLog(logging.Handler):
    """Writes each record as one ``iamfit: <level>: ...`` line on the current stderr (click's, so CliRunner sees it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = " ".join(record.getMessage().split())
            if record.levelno >= logging.WARNING:
                line = f"iamfit: warning: {message}"
            elif record.levelno >= logging.INFO:
                line = f"iamfit: info: {message}"
            else:
                module = record.name.removeprefix(f"{_ROOT}.")
                line = f"iamfit: debug: {module}: {message}"
            click.echo(line, err=True)
        except Exception:  # noqa: BLE001 - logging must never break a command (handleError reports it)
            self.handleError(record)


def level_for(verbosity: int) -> int:
    """0 -> WARNING, 1 (``-v``) -> INFO, 2 or more (``-vv``) -> DEBUG."""
    if verbosity <= 0:
        return logging.WARNING
    return logging.INFO if verbosity == 1 else logging.DEBUG


def configure(verbosity: int = 0) -> None:
    """Install the handler on the ``iamfit`` logger once and show records from the level ``verbosity`` asks for.

    Records still propagate (to pytest's caplog, to an embedding application's handlers). Without ``-v`` the
    logger's own level is left unset, as the library leaves it, so only the handler filters.
    """
    logger = logging.getLogger(_ROOT)
    handler = next((h for h in logger.handlers if isinstance(h, StderrLog)), None)
    if handler is None:
        handler = StderrLog()
        logger.addHandler(handler)
    level = level_for(verbosity)
    handler.setLevel(level)
    logger.setLevel(level if verbosity > 0 else logging.NOTSET)
