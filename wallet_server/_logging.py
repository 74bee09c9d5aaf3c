"""One-line JSON logs. Only fields passed in ``extra`` that are known to be safe are written."""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["JsonFormatter", "ServerLogFilter", "configure_logging", "install_server_log_filter"]

#: One encoder for every line (json.dumps with options makes a new one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
_SAFE_FIELDS = ("event", "request_id", "method", "route", "status", "duration_ms", "code", "error")


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", …}``; tracebacks only for unexpected errors, in ``exc``."""

    #: The last second formatted and its text, one tuple: threads logging at once see a pair.
    _last: tuple[int, str] = (-1, "")

    def _timestamp(self, created: float) -> str:
        # The same text as datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"),
        # the date and time formatted once per second (one record per request).
        fraction, whole = math.modf(created)  # as datetime splits it, rounding half to even
        second, micro = int(whole), round(fraction * 1e6)
        if micro >= 1_000_000:
            second, micro = second + 1, micro - 1_000_000
        last_second, prefix = self._last
        if second != last_second:
            prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._last = (second, prefix)
        return f"{prefix}.{micro // 1000:03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _SAFE_FIELDS:
            if name in record.__dict__:
                out[name] = record.__dict__[name]
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return _ENCODER.encode(out)


def configure_logging(level: str) -> None:
    """Send JSON lines to stderr at ``level`` (the entry point calls this, library code never does)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    # The JSON lines name no source line, thread or process: the logging HOWTO's "Optimization"
    # switches spare every record (one per request) the stack walk and lookups that find them.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class ServerLogFilter(logging.Filter):
    """Rewrites aiohttp's own "Error handling request from <client address>" records.

    aiohttp logs a request it could not parse at error level, with the client's address and a
    traceback whose exception text quotes the raw request line or header (an ``Authorization``
    value included). A malformed request is the client's doing: it becomes one info line, event
    ``malformed_request``, naming only the kind of error. Any other failure there stays an error
    with its traceback, without the address.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not (isinstance(record.msg, str) and record.msg.startswith("Error handling request")):
            return True
        exc = record.exc_info[1] if record.exc_info else None
        record.args = ()
        if exc is None or isinstance(exc, HttpProcessingError):
            record.msg = "malformed request refused"
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info, record.exc_text = None, None
            record.event = "malformed_request"
            record.error = type(exc).__name__ if exc is not None else "unknown"
        else:
            record.msg = "error handling a request"
            record.event = "server_error"
        return True


_SERVER_FILTER = ServerLogFilter()


def install_server_log_filter() -> None:
    """Put :class:`ServerLogFilter` on aiohttp's server logger (once; the app factory calls it)."""
    logger = logging.getLogger("aiohttp.server")
    if _SERVER_FILTER not in logger.filters:
        logger.addFilter(_SERVER_FILTER)
