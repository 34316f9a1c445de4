"""Logging: context on every line (order, provider, request) and the two formats.

`log_context(order_id=..., provider=...)` puts values in a context variable for the duration of
a block; ContextFilter copies them onto every record logged inside it, whichever module logs
it (the upstream client's request lines included). In production every line is one JSON
object (python-json-logger); in development a readable line with the context at the end.

Secrets are blanked on the way out, a safety net behind the rule that no code logs a key:
anything shaped like a customer API key (48 hex characters), and the value of any `key=`,
`api_key=`, `token=`, `secret=` or `password=` parameter (a query string such as the one in
`GET /api/v2?key=...`, which is how many panels call the API). RedactFilter does this to each
record's message on every handler of LOGGING (so also to a handler with somebody else's
formatter), and both formatters do it again to the whole line, extras and tracebacks included.
LOGGING routes Django's own loggers (the development server's request lines, django.request)
and Celery's task logger through those handlers instead of the handlers they bring.
"""

import contextlib
import contextvars
import logging
import re
import uuid
from collections.abc import Iterator

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

CONTEXT_FIELDS = ("order_id", "provider", "request_id", "task")
_context: contextvars.ContextVar[dict] = contextvars.ContextVar("log_context", default={})  # noqa: B039
_KEY_SHAPED = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{48}(?![0-9a-fA-F])")
_SECRET_NAMES = r"(?:api[_-]?)?key|token|secret|password"
# key=VALUE in a query string or form body, and percent-encoded (?key%3DVALUE inside a next=).
_SECRET_PARAM = re.compile(rf"(?i)(?<![\w-])({_SECRET_NAMES})(=)[^&\s'\"<>#;,)]+")
_SECRET_PARAM_ENCODED = re.compile(rf"(?i)(?<=%3F|%26)({_SECRET_NAMES})(%3D)[^&%\s'\"<>#;,)]+")
# 'key': 'VALUE' or 'key': ['VALUE'] in the repr of a dict or a QueryDict.
_SECRET_ITEM = re.compile(rf"""(?i)(['"])({_SECRET_NAMES})\1(\s*:\s*\[?\s*)(['"])[^'"]*\4""")
REDACTED = "[redacted]"


@contextlib.contextmanager
def log_context(**values) -> Iterator[None]:
    """Add these values to every log line written inside the block (nested blocks merge)."""
    token = _context.set({**_context.get(), **{k: v for k, v in values.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind_log_context(**values) -> None:
    """Add values to the current block's context (undone when the enclosing log_context ends)."""
    _context.set({**_context.get(), **{k: v for k, v in values.items() if v is not None}})


def current_context() -> dict:
    return dict(_context.get())


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def redact(text: str) -> str:
    """`text` with every API-key-shaped string and every secret parameter's value blanked."""
    text = _SECRET_PARAM.sub(rf"\1\2{REDACTED}", text)
    text = _SECRET_PARAM_ENCODED.sub(rf"\1\2{REDACTED}", text)
    text = _SECRET_ITEM.sub(rf"\1\2\1\3\4{REDACTED}\4", text)
    return _KEY_SHAPED.sub(REDACTED, text)


_redact = redact


class RedactFilter(logging.Filter):
    """On a handler: blank secrets in the record's message before any formatter sees it. The
    message is formatted with its args first (the development server logs `"%s" %s %s` with the
    request line as an arg), and replaced only when something was blanked, so records without
    secrets keep their args for handlers that group by them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record: the handler reports it as logging always does
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(
            f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if getattr(record, name, None) is not None
        )
        return _redact(f"{line} [{extra}]" if extra else line)


class JsonFormatter(_BaseJsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )

    def format(self, record: logging.LogRecord) -> str:
        return _redact(super().format(record))


class RequestLogMiddleware:
    """Give each request an ID (the proxy's X-Request-ID when it sends a sane one), put it on
    every log line written while serving it, and send it back in the answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = given if 8 <= len(given) <= 64 and given.replace("-", "").isalnum() else uuid.uuid4().hex
        with log_context(request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
