"""No API key reaches a log line, whichever logger writes it and whatever its handler's format."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.servers.basehttp import WSGIRequestHandler

from panel.observability import PlainFormatter, RedactFilter, redact

ROOT = Path(__file__).resolve().parents[2]
KEY = "0123456789abcdef0123456789abcdef0123456789abcdef"  # a customer key's shape
SHORT = "not-hex-shaped-secret"  # a wrong or foreign key: not caught by the shape alone


@pytest.fixture
def configured_output():
    """What the handlers of settings.LOGGING write, captured: their streams point at a buffer."""
    stream = io.StringIO()
    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and any(isinstance(f, RedactFilter) for f in h.filters)
    ]
    assert handlers, "LOGGING gives the root logger a stream handler"
    old = [h.setStream(stream) for h in handlers]
    yield stream
    for handler, previous in zip(handlers, old, strict=True):
        handler.setStream(previous)


def _dev_server_logs(request_line: str, status: str = "200") -> None:
    # The development server's own code path: WSGIRequestHandler.log_message('"%s" %s %s', ...).
    handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
    handler.request = None
    handler.log_message('"%s" %s %s', request_line, status, "17")


@pytest.mark.parametrize("secret", [KEY, SHORT])
@pytest.mark.parametrize("status", ["200", "404", "500"])
def test_the_development_servers_request_lines_are_redacted(configured_output, secret, status):
    _dev_server_logs(f"GET /api/v2?action=balance&key={secret} HTTP/1.1", status)
    text = configured_output.getvalue()
    assert "GET /api/v2?action=balance&key=[redacted] HTTP/1.1" in text
    assert secret not in text


def test_django_request_lines_and_their_request_extra_are_redacted(configured_output, rf, settings):
    from django.http import HttpResponseNotFound
    from django.utils.log import log_response

    request = rf.get("/api/v2", {"key": SHORT, "action": "status"})
    log_response("Not Found: %s", request.get_full_path(), request=request, response=HttpResponseNotFound())
    logging.getLogger("django.request").warning("Bad request %s", request, extra={"request": request})
    text = configured_output.getvalue()
    assert "key=[redacted]" in text and SHORT not in text


def test_any_logger_any_message_and_any_args(configured_output):
    logging.getLogger("orders.somewhere").warning("calling %s", f"https://up.example/api/v2?key={SHORT}&action=add")
    logging.getLogger("celery.app.trace").warning("form %s", {"key": SHORT, "action": "add"})
    logging.getLogger("x").error("next=%s", f"%2Fapi%2Fv2%3Faction%3Dx%26key%3D{SHORT}")
    text = configured_output.getvalue()
    assert SHORT not in text
    assert text.count("[redacted]") == 3


def test_the_filter_redacts_for_a_handler_with_any_formatter():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(RedactFilter())
    logger = logging.getLogger("test.redaction.foreign")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning('"%s" %s %s', f"GET /api/v2?key={SHORT} HTTP/1.1", "200", "5")
        logger.warning("%d%% done", 50)  # nothing secret: the args stay as they were
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().splitlines() == ['"GET /api/v2?key=[redacted] HTTP/1.1" 200 5', "50% done"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("/api/v2?key=abc&action=b", "/api/v2?key=[redacted]&action=b"),
        ("/x?api_key=abc", "/x?api_key=[redacted]"),
        ("token=abc password=def", "token=[redacted] password=[redacted]"),
        ("<WSGIRequest: GET '/api/v2?key=abc'>", "<WSGIRequest: GET '/api/v2?key=[redacted]'>"),
        ("{'key': ['abc'], 'action': ['x']}", "{'key': ['[redacted]'], 'action': ['x']}"),
        ('{"key": "abc"}', '{"key": "[redacted]"}'),
        (f"raw {KEY} here", "raw [redacted] here"),
        ("monkey=1 csrfmiddlewaretoken=2 keyword=3", "monkey=1 csrfmiddlewaretoken=2 keyword=3"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


def test_plain_formatter_redacts_tracebacks_too():
    try:
        raise ValueError(f"bad url /api/v2?key={SHORT}")
    except ValueError:
        record = logging.getLogger("x").makeRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert SHORT not in PlainFormatter().format(record)


def test_every_handler_of_every_logger_redacts_also_after_celery_sets_up_its_logging():
    """In a fresh process, as a worker starts: Django's LOGGING, then Celery's own set-up (which
    adds handlers to loggers that have none). Every handler anywhere must carry the filter."""
    code = """
import logging, django
django.setup()
from panel.celery import app
app.log.setup_logging_subsystem(loglevel="INFO")
from panel.observability import RedactFilter
loggers = [logging.getLogger()] + [l for l in logging.root.manager.loggerDict.values() if isinstance(l, logging.Logger)]
bad = sorted({f"{l.name}: {type(h).__name__}" for l in loggers for h in l.handlers
              if not isinstance(h, logging.NullHandler) and not any(isinstance(f, RedactFilter) for f in h.filters)})
print(len([h for l in loggers for h in l.handlers]), bad)
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "panel.settings"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    count, bad = result.stdout.strip().split(" ", 1)
    assert int(count) >= 1 and bad == "[]", result.stdout


def test_gunicorn_access_logs_are_configured_without_query_strings():
    # %(r)s (request line), %(q)s (query) and %(U)s-less formats would write ?key=... to the log.
    for path in ("docker-compose.yml", "scripts/soak.py"):
        text = (ROOT / path).read_text()
        assert "--access-logformat" in text and "%(U)s" in text, path
        assert "%(r)s" not in text and "%(q)s" not in text, path


def test_json_lines_are_redacted_in_every_field(configured_output, settings):
    from panel.observability import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("x").addHandler(handler)
    try:
        logging.getLogger("x").warning("hello", extra={"url": f"/api/v2?key={SHORT}"})
    finally:
        logging.getLogger("x").removeHandler(handler)
    assert json.loads(stream.getvalue())["url"] == "/api/v2?key=[redacted]"
