"""Logging: one JSON object per line (or plain text for a terminal), with the request id,
and with secrets masked however they got into a message.

Masked: API keys (``uk_live_…``) and licence keys (``lk_…``), all but the display
prefix; presigned URL and request signatures (``X-Amz-Signature=``, botocore's
``Signature:``) and minisign signatures (base64 text, which is how Tauri ships them).
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import re
from logging.handlers import QueueHandler, QueueListener
from queue import Full, Queue

from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_SECRETS = (
    (re.compile(r"(uk_live_[0-9A-Za-z]{4})[0-9A-Za-z]+"), r"\1…"),
    (re.compile(r"\b(lk_[0-9A-Za-z]{4})[0-9A-Za-z]+"), r"\1…"),
    (re.compile(r"((?:X-Amz-Signature|Signature)=)[0-9A-Za-z%/+=]+"), r"\1[masked]"),
    # botocore at DEBUG prints the request signature it computed on a line of its own
    # ("Signature:\n<hex>"; in a JSON line the break is the two characters \n): with it
    # a presigned URL can be rebuilt.
    (re.compile(r"(Signature:(?:\s|\\n)*)[0-9a-f]{64}"), r"\1[masked]"),
    # base64 of "untrusted comment:": a whole .sig file, as Tauri and CI send it
    (re.compile(r"dW50cnVzdGVkIGNvbW1lbnQ6[0-9A-Za-z+/=]*"), "[signature masked]"),
    # a decoded .sig: its signature line (74 bytes in base64; a public key line is shorter)
    (re.compile(r"R[UW][Q-T][0-9A-Za-z+/]{96}="), "[signature masked]"),
)
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_JSON_FIELDS = ("asctime", "levelname", "name", "message")


def mask(text: str) -> str:
    """``text`` with every secret Ferryman knows the shape of masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class _MaskedJson(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))

    def process_log_record(self, log_data: dict[str, object]) -> dict[str, object]:
        # uvicorn's copy of its message with terminal colour codes: noise in a JSON line.
        log_data.pop("color_message", None)
        return log_data


class _MaskedText(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


class _Outbox(QueueHandler):
    """Hands each record to the writer thread and never waits: a process writing to a
    terminal or a slow log shipper must not stall its event loop on ``write(2)``. When the
    queue is full the record is dropped and counted, and the next record that fits is
    preceded by a line saying how many were lost."""

    queue: Queue[logging.LogRecord]

    def __init__(self, queue: Queue[logging.LogRecord]) -> None:
        super().__init__(queue)
        self.dropped = 0  # since the last line that said so
        self.dropped_total = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # The message is merged now (its arguments may change later); formatting and
        # masking happen on the writer thread.
        record.msg, record.args = record.getMessage(), None
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            if self.dropped:
                self.queue.put_nowait(self._lost(record))
                self.dropped = 0
            self.queue.put_nowait(record)
        except Full:
            self.dropped += 1
            self.dropped_total += 1

    def _lost(self, record: logging.LogRecord) -> logging.LogRecord:
        return logging.makeLogRecord(
            {
                "name": __name__,
                "levelno": logging.WARNING,
                "levelname": "WARNING",
                "msg": f"{self.dropped} log lines were dropped: stderr was not read fast enough",
                "request_id": record.__dict__.get("request_id"),
            }
        )


QUEUED_RECORDS = 10_000
_writer: QueueListener | None = None
_outbox: _Outbox | None = None


def configure(level: str, json_lines: bool) -> None:
    """Send every logger (ours, uvicorn's, Tortoise's) to stderr in one format, written
    by a thread of its own (see :class:`_Outbox`)."""
    global _writer, _outbox
    stream = logging.StreamHandler()
    formatter: logging.Formatter
    if json_lines:
        formatter = _MaskedJson(
            _JSON_FIELDS,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    else:
        formatter = _MaskedText(_TEXT_FORMAT)
    stream.setFormatter(formatter)
    stop()
    queue: Queue[logging.LogRecord] = Queue(QUEUED_RECORDS)
    _outbox = handler = _Outbox(queue)
    handler.addFilter(_RequestId())
    _writer = QueueListener(queue, stream)
    _writer.start()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level))
    # uvicorn's own handlers would print a second, unmasked copy; its access log is
    # replaced by ferryman.access.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # Tortoise announces its start at INFO with the reprs of its internals: only at DEBUG
    # (where its SQL is wanted too) does it speak below WARNING.
    debug = root.level <= logging.DEBUG
    logging.getLogger("tortoise").setLevel(logging.NOTSET if debug else logging.WARNING)


def flush() -> None:
    """Wait until every record handed over so far is written (at exit, and for tests)."""
    if _outbox is not None:
        _outbox.queue.join()


def dropped() -> int:
    """Records dropped since start-up because stderr was not read fast enough."""
    return _outbox.dropped_total if _outbox is not None else 0


def stop() -> None:
    """Write what is queued, then end the writer thread (at exit)."""
    global _writer
    if _writer is not None:
        _writer.stop()
        _writer = None


atexit.register(stop)
