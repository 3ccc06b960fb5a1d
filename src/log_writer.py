"""The handler every log line goes through: formatted where it was logged, written to
stderr by a thread of its own, several lines per write.

A process writing to a terminal or to a log shipper that reads slowly must not stall its
event loop on ``write(2)``: measured behind a reader of 64 KiB/s, origin update checks fell
from about 4,600 to 643 a second with the write in the loop. Lines wait in memory instead,
up to a limit; beyond it they are dropped, counted (:attr:`LogWriter.dropped_total`, which
``/metrics`` reports), and the next line that fits is preceded by one saying how many were
lost. Formatting stays in the caller's thread: handing records to the writer to format
would make two threads take turns at the interpreter on every line.
"""

from __future__ import annotations

import logging
import threading
from typing import TextIO

WAITING_LINES = 10_000


class LogWriter(logging.Handler):
    """A ``logging.Handler`` that never waits for its stream (see the module docstring)."""

    def __init__(self, stream: TextIO, limit: int = WAITING_LINES) -> None:
        super().__init__()
        self.stream = stream
        self.limit = limit
        self.dropped_total = 0
        self._dropped = 0  # since the last line that said so
        self._lines: list[str] = []
        self._writing = False
        self._closed = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._write, name="log-writer", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        with self._changed:
            if len(self._lines) >= self.limit:
                self._dropped += 1
                self.dropped_total += 1
                return
            if self._dropped:
                self._lines.append(self.format(self._lost(record)))
                self._dropped = 0
            self._lines.append(line)
            self._changed.notify_all()

    def flush(self) -> None:
        """Wait until every line handed over so far is written."""
        with self._changed:
            while (self._lines or self._writing) and self._thread.is_alive():
                self._changed.wait()

    def close(self) -> None:
        """Write what waits, then end the thread."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._thread.join()
        super().close()

    def _write(self) -> None:
        while True:
            with self._changed:
                while not self._lines and not self._closed:
                    self._changed.wait()
                if not self._lines:
                    return
                batch, self._lines = self._lines, []
                self._writing = True
            try:
                self.stream.write("\n".join(batch) + "\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass  # stderr is gone (closed, or a broken pipe): nowhere left to say so
            with self._changed:
                self._writing = False
                self._changed.notify_all()

    def _lost(self, record: logging.LogRecord) -> logging.LogRecord:
        return logging.makeLogRecord(
            {
                "name": __name__,
                "levelno": logging.WARNING,
                "levelname": "WARNING",
                "msg": f"{self._dropped} log lines were dropped: stderr was not read fast enough",
                "request_id": record.__dict__.get("request_id"),
            }
        )
