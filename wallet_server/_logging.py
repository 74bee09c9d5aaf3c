"""One-line JSON logs. Only fields passed in ``extra`` that are known to be safe are written."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

__all__ = ["JsonFormatter", "configure_logging"]

_SAFE_FIELDS = ("event", "request_id", "method", "route", "status", "duration_ms", "code", "error")


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", …}``; tracebacks only for unexpected errors, in ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _SAFE_FIELDS:
            if name in record.__dict__:
                out[name] = record.__dict__[name]
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str) -> None:
    """Send JSON lines to stderr at ``level`` (the entry point calls this, library code never does)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
