"""Capture of the logs and prints of a running acquisition (saved as ``info/logs``, ``info/prints``)."""

from __future__ import annotations

import io
import logging
import sys
from typing import TextIO

__all__ = ["OutputCapture"]

LOG_FORMAT = "%(name)s:%(filename)s:%(asctime)s:\n%(levelname)s:%(message)s"


class _Tee(io.TextIOBase):
    """Writes to the original stream and keeps a copy."""

    def __init__(self, original: TextIO, copy: io.StringIO) -> None:
        super().__init__()
        self.original = original
        self.copy = copy

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.original.write(text)

    def flush(self) -> None:
        self.original.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.original, "isatty", lambda: False)())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.original, "encoding", "utf-8")

    def __getattr__(self, name: str):
        return getattr(self.original, name)


#: Loggers of background work (the index writer, backend workers): not the acquisition's logs.
BACKGROUND_LOGGERS = ("labmate_core.index", "labmate_core.backends")


class _BackgroundFilter(logging.Filter):
    """Drops the records of our background threads (named ``labmate-…``) and loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.threadName).startswith("labmate-"):
            return False
        return not any(
            record.name == name or record.name.startswith(name + ".")
            for name in BACKGROUND_LOGGERS
        )


class OutputCapture:
    """Collects log records of ``logger_name`` and, while :meth:`start`-ed, ``sys.stdout``."""

    def __init__(self, logger_name: str = "labmate_core") -> None:
        self._logs = io.StringIO()
        self._prints = io.StringIO()
        self._handler = logging.StreamHandler(self._logs)
        self._handler.setFormatter(logging.Formatter(LOG_FORMAT))
        self._handler.setLevel(logging.DEBUG)
        self._logger = logging.getLogger(logger_name)
        self._tee: _Tee | None = None
        self._saved_level: int | None = None

    def start(self) -> None:
        """Forget what was captured and start capturing again (not the logs of background
        work, index or backends: they are not part of the acquisition)."""
        self.stop()
        self._handler.filters = [_BackgroundFilter()]
        self._logs.seek(0)
        self._logs.truncate()
        self._prints = io.StringIO()
        self._logger.addHandler(self._handler)
        if self._logger.level == logging.NOTSET or self._logger.level > logging.INFO:
            self._saved_level = self._logger.level
            self._logger.setLevel(logging.INFO)
        self._tee = _Tee(sys.stdout, self._prints)
        sys.stdout = self._tee

    def stop(self) -> None:
        """Stop capturing (the captured text stays available)."""
        self._logger.removeHandler(self._handler)
        if self._saved_level is not None:
            self._logger.setLevel(self._saved_level)
            self._saved_level = None
        if self._tee is not None:
            if sys.stdout is self._tee:
                sys.stdout = self._tee.original
            self._tee = None

    @property
    def active(self) -> bool:
        return self._tee is not None

    def logs(self) -> str:
        return self._logs.getvalue()

    def prints(self) -> str:
        return self._prints.getvalue()
