"""Logging: one JSON object per line (or plain text for a terminal), with the request id,
and with secrets masked however they got into a message.

Masked: API keys (``uk_live_…``), licence keys (``lk_…``), console sign-in links
(``sl_…``), session tokens (``fs_…``) and webhook signing secrets (``whsec_…``), all but
the display prefix; Slack and Discord webhook URLs (each is its own credential) after
their fixed part; presigned URL and request signatures (``X-Amz-Signature=``,
botocore's ``Signature:``) and minisign signatures (base64 text, which is how Tauri ships
them).
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import re
import sys

from pythonjsonlogger.json import JsonFormatter

from ferryman.log_writer import LogWriter

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_SECRETS = (
    (re.compile(r"(uk_live_[0-9A-Za-z]{4})[0-9A-Za-z]+"), r"\1…"),
    (re.compile(r"\b(lk_[0-9A-Za-z]{4})[0-9A-Za-z]+"), r"\1…"),
    (re.compile(r"\b(sl_[0-9A-Za-z]{4})[0-9A-Za-z]+"), r"\1…"),
    (re.compile(r"\b(fs_[0-9A-Za-z]{4})[0-9A-Za-z]+"), r"\1…"),
    # a webhook's signing secret: base64, which may hold + and / and end in =
    (re.compile(r"\b(whsec_[0-9A-Za-z+/]{4})[0-9A-Za-z+/=]+"), r"\1…"),
    # Slack's and Discord's incoming-webhook URLs: whoever holds one may post with it
    (re.compile(r"(hooks\.slack\.com/services/)[^\s\"'\\<>]+"), r"\1…"),
    (re.compile(r"(/api/webhooks/)[^\s\"'\\<>]+"), r"\1…"),
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
# Matches wherever one of _SECRETS could: a fixed part of each pattern (the last whole).
_MAYBE_SECRET = re.compile(
    r"uk_live_|lk_|sl_|fs_|whsec_|hooks\.slack\.com/services/|/api/webhooks/|Signature|"
    r"dW50cnVzdGVk|R[UW][Q-T][0-9A-Za-z+/]{96}="
)
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_JSON_FIELDS = ("asctime", "levelname", "name", "message")


def mask(text: str) -> str:
    """``text`` with every secret Ferryman knows the shape of masked."""
    if not _MAYBE_SECRET.search(text):
        return text  # most lines: one quick scan instead of six
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


_writer: LogWriter | None = None


def configure(level: str, json_lines: bool) -> None:
    """Send every logger (ours, uvicorn's, Tortoise's) to stderr in one format, through a
    :class:`~ferryman.log_writer.LogWriter`."""
    global _writer
    formatter: logging.Formatter
    if json_lines:
        formatter = _MaskedJson(
            _JSON_FIELDS,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    else:
        formatter = _MaskedText(_TEXT_FORMAT)
    stop()
    _writer = handler = LogWriter(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_RequestId())
    # Neither format shows where a call was made, or from which thread or process: skip
    # finding out on every record (the logging HOWTO's "Optimization" section).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
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
    """Wait until every line logged so far is written (for tests)."""
    if _writer is not None:
        _writer.flush()


def dropped() -> int:
    """Lines dropped since start-up because stderr was not read fast enough."""
    return _writer.dropped_total if _writer is not None else 0


def stop() -> None:
    """Write what waits, then end the writer thread (at exit)."""
    global _writer
    if _writer is not None:
        _writer.close()
        _writer = None


atexit.register(stop)
