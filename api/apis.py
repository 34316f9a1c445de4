"""The downstream API v2 endpoint: /api/v2, answering as ../shared/reference/upstream-api-v2.txt.

A plain Django view with a hand-written dispatcher rather than a DRF APIView: the protocol has
one URL whose behaviour depends on a form field, errors are HTTP 200 with {"error": ...}, and the
only credential is the `key` field. DRF's request wrapping, content negotiation, authentication
and exception handling would each have to be turned off or worked around, and they cost about
half the throughput of a bare view; here the per-request work is parsing the form, one Redis
round trip for the rate limits and the queries the action needs (one for a status of up to 100 IDs).

The view is thin: it parses, checks the key, and calls orders/ and catalog/ for the work. It
never reads the session, so a logged-in browser's cookie authenticates nothing here.

Language: every answer is in the panel's default language (settings.LANGUAGE_CODE), whatever the
request's Accept-Language header or language cookie says, which LocaleMiddleware would otherwise
follow: the protocol's texts are English, and a client panel reading our service names must get
the same names from every machine it calls from. `action=services` alone takes a `lang` parameter
(see `answer_language`) for service and category names in another shipped language.
"""

import hashlib
import json
import logging
import traceback
from collections.abc import Callable
from typing import Any

from csp.decorators import csp_exempt
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt

from accounts.models import User
from accounts.services import MAX_KEY_LENGTH, api_key_hash, user_by_api_key
from catalog.selectors import catalog_for_customer
from orders.cancels import cancel_request
from orders.errors import OrderError
from orders.models import Refill
from orders.placement import order_place
from orders.refills import refill_request
from orders.selectors import order_status_rows_by_key
from panel.tenancy import panel_currency
from upstream.client import IDEMPOTENCY_HEADER, IDEMPOTENCY_HONOURED

from . import answers
from .throttling import over_limit

logger = logging.getLogger(__name__)

MAX_IDS = 100
MAX_IDEMPOTENCY_KEY = 128
RESERVED = frozenset({"key", "action", "idempotency_key"})
# Shorter values are not keys of ours, and blanking them would garble a log, not protect it.
MIN_SECRET_LENGTH = 8


class BadRequest(Exception):
    """The request cannot be read; answered with the given error text."""

    def __init__(self, message: str = answers.INCORRECT_REQUEST):
        super().__init__(message)
        self.message = message


def _json_text(body: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(body.encode(), content_type="application/json", status=status)
    response["Cache-Control"] = "no-store"
    return response


def _json(payload: Any, status: int = 200) -> HttpResponse:
    return _json_text(json.dumps(payload, separators=(",", ":")), status)


# --- Reading the request --------------------------------------------------------------------


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str | int | float):
        return str(value)
    raise BadRequest


def _clean(value: Any) -> str | list[str] | None:
    if isinstance(value, list):
        items = [_scalar(item) for item in value]
        return [item for item in items if item is not None]
    return _scalar(value)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _json_params(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest from None
    if not isinstance(payload, dict):
        raise BadRequest
    return {str(name): _clean(value) for name, value in payload.items()}


def _form_params(request: HttpRequest, body: bytes) -> dict[str, Any] | None:
    """The body read as a form, if it is one: a call always names `key` or `action`."""
    form = QueryDict(body, encoding=request.encoding or settings.DEFAULT_CHARSET)
    return form.dict() if "key" in form or "action" in form else None


def _body_params(request: HttpRequest) -> dict[str, Any]:
    """The body's parameters. Django reads form bodies labelled as such; clients in the wild
    also send `key=...&action=...` as text/plain, without a Content-Type or even labelled JSON,
    and JSON without its label, so any other body is read by what it looks like."""
    if request.method != "POST":
        return {}
    content_type = request.content_type or ""
    if content_type in FORM_TYPES:
        return request.POST.dict()
    body = request.body
    if not body.strip():
        return {}
    if content_type == "application/json" or content_type.endswith("+json") or body.lstrip()[:1] == b"{":
        try:
            return _json_params(body)
        except BadRequest:
            form = _form_params(request, body)
            if form is None:
                raise
            return form
    form = _form_params(request, body)
    if form is None:
        raise BadRequest
    return form


def _params(request: HttpRequest) -> tuple[dict[str, Any], bool]:
    """The request's parameters (body over query string) and whether the key came in the URL."""
    try:
        body = _body_params(request)
        query = request.GET.dict()
    except (SuspiciousOperation, MultiPartParserError):
        raise BadRequest from None
    params = {**query, **body}
    params = {name: value for name, value in params.items() if value is not None}
    for value in params.values():
        text = value if isinstance(value, str) else "".join(value)
        # PostgreSQL cannot store NUL characters, and a lone surrogate (which JSON's \u escapes
        # can spell) is not text at all: no legitimate parameter carries either.
        if "\x00" in text or not _encodable(text):
            raise BadRequest
    return params, "key" in query


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if isinstance(value, list):
        value = ",".join(value)
    return (value or "").strip()


def _id_list(params: dict[str, Any], name: str) -> list[str]:
    """The distinct IDs of a multi-ID parameter, in the order first sent: an ID sent twice is
    one request (a second cancel or refill of the same order would only be refused or, worse,
    recorded twice), and the limit of 100 counts distinct IDs, the work actually done."""
    value = params.get(name)
    parts = value if isinstance(value, list) else str(value or "").split(",")
    ids = list(dict.fromkeys(part.strip() for part in parts if part.strip()))
    if not ids:
        raise BadRequest
    if len(ids) > MAX_IDS:
        raise BadRequest(answers.TOO_MANY_IDS)
    return ids


def _ids(params: dict[str, Any], multi: str, single: str) -> tuple[list[str], bool]:
    """The IDs a call asks for (`orders` before `order`, `refills` before `refill`) and whether
    it used the single-ID form. An empty or blank parameter counts as missing, so `order=`
    is the same Incorrect request as no `order` at all."""
    if _text(params, multi):
        return _id_list(params, multi), False
    if _text(params, single):
        return [_text(params, single)], True
    raise BadRequest


def _idempotency_key(request: HttpRequest, params: dict[str, Any]) -> str | None:
    key = _text(params, "idempotency_key") or request.META.get("HTTP_IDEMPOTENCY_KEY", "").strip()
    if not key:
        return None
    if len(key) > MAX_IDEMPOTENCY_KEY:
        # Hashed rather than cut, so that two long keys sharing a prefix stay distinct.
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


# --- Actions --------------------------------------------------------------------------------


# Longer is no language tag (BCP 47's longest useful ones are far shorter): not worth parsing.
MAX_LANG_LENGTH = 35


def answer_language(raw: str) -> str:
    """The language `lang` asks for: a shipped language's code, case and "_" or "-" as the client
    likes ("ru", "pt-BR", "pt_br"), or a variant of one ("pt" and "pt-PT" give pt-br, "en-US"
    gives en). Anything else, empty included, is the panel's default language: clients send
    junk, and an answer in the default language serves them better than an error."""
    code = raw.strip().lower().replace("_", "-")
    if code and len(code) <= MAX_LANG_LENGTH:
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            pass
    return settings.LANGUAGE_CODE


def services(request: HttpRequest, user: User, params: dict[str, Any]) -> Any:
    language = answer_language(_text(params, "lang"))
    request.answer_language = language
    with translation.override(language):
        entries = catalog_for_customer(user)
    return [
        answers.service_entry(
            service=e.service,
            name=e.name,
            type=e.type,
            category=e.category,
            rate=e.rate,
            min=e.min,
            max=e.max,
            refill=e.refill,
            cancel=e.cancel,
            dripfeed=e.dripfeed,
        )
        for e in entries
    ]


def add(request: HttpRequest, user: User, params: dict[str, Any]) -> Any:
    data = {name: value for name, value in params.items() if name not in RESERVED}
    try:
        placed = order_place(
            user=user,
            service_id=_text(params, "service"),
            data=data,
            source="api",
            idempotency_key=_idempotency_key(request, params),
        )
    except OrderError as exc:
        return answers.error(exc.message)
    return answers.order_placed(placed.order.pk)


_INCORRECT_ORDER_JSON = json.dumps(answers.error(answers.INCORRECT_ORDER), separators=(",", ":"))


def status_by_key(raw_key: str, params: dict[str, Any]) -> str | dict[str, str]:
    """`status`, the call sub-resellers' panels make most, answered as JSON text (or an error
    dict): the key check and the orders are one query, so a 100-ID status costs one database
    round trip whatever the number of IDs."""
    try:
        ids, single = _ids(params, "orders", "order")
        bad_request = None
    except BadRequest as exc:
        ids, single, bad_request = [], False, exc
    user_id, rows = (None, [])
    if raw_key and len(raw_key) <= MAX_KEY_LENGTH:
        wanted = [raw for raw in ids if answers.is_plain_id(raw)]
        user_id, rows = order_status_rows_by_key(key_hash=api_key_hash(raw_key), order_ids=wanted)
    if user_id is None:
        return answers.error(answers.INVALID_KEY)
    if bad_request is not None:
        raise bad_request
    currency = panel_currency()
    found = {
        str(pk): answers.order_status_json(
            charge=charge,
            start_count=start_count,
            status=status,
            remains=remains,
            quantity=quantity,
            runs=runs,
            interval=interval,
            currency=currency,
        )
        for pk, charge, start_count, status, remains, quantity, runs, interval in rows
    }
    if single:
        return found.get(ids[0]) or answers.error(answers.INCORRECT_ORDER)
    return answers.keyed_json(ids, found, _INCORRECT_ORDER_JSON)


def _outcomes(ids: list[str], run: Callable[[list[str]], list]) -> list[tuple[str, int | None, str | None]]:
    """(raw ID, new ID, error) per requested ID, in order; IDs that cannot be ours never reach `run`."""
    valid = [raw for raw in ids if answers.is_plain_id(raw)]
    done = iter(run(valid) if valid else [])
    answer = []
    for raw in ids:
        if answers.is_plain_id(raw):
            outcome = next(done)
            answer.append((raw, outcome.id, outcome.error))
        else:
            answer.append((raw, None, answers.INCORRECT_ORDER))
    return answer


def refill(request: HttpRequest, user: User, params: dict[str, Any]) -> Any:
    def run(ids: list[str]) -> list:
        return refill_request(user_id=user.pk, order_ids=ids)

    ids, single = _ids(params, "orders", "order")
    if single:
        ((_, new_id, message),) = _outcomes(ids, run)
        return answers.error(message) if message else answers.refill_created(new_id)
    return [answers.refill_item(raw, new_id, message) for raw, new_id, message in _outcomes(ids, run)]


def _refill_states(user: User, ids: list[str]) -> dict[str, str]:
    wanted = {int(raw) for raw in ids if answers.is_plain_id(raw)}
    if not wanted:
        return {}
    rows = Refill.objects.filter(user_id=user.pk, pk__in=wanted).values_list("id", "status")
    return {str(pk): state for pk, state in rows}


def refill_status(request: HttpRequest, user: User, params: dict[str, Any]) -> Any:
    ids, single = _ids(params, "refills", "refill")
    found = _refill_states(user, ids)
    if single:
        state = found.get(ids[0])
        return answers.refill_state(state) if state else answers.error(answers.REFILL_NOT_FOUND)
    return [answers.refill_state_item(raw, found.get(raw)) for raw in ids]


def cancel(request: HttpRequest, user: User, params: dict[str, Any]) -> Any:
    # The reference only shows `orders`; a lone `order` is accepted too and answered as a list.
    ids = _id_list(params, "orders" if _text(params, "orders") else "order")

    def run(valid: list[str]) -> list:
        return cancel_request(user_id=user.pk, order_ids=valid)

    return [answers.cancel_item(raw, new_id, message) for raw, new_id, message in _outcomes(ids, run)]


def balance(request: HttpRequest, user: User, params: dict[str, Any]) -> Any:
    return answers.balance(user.balance, panel_currency())


ACTIONS: dict[str, Callable[[HttpRequest, User, dict[str, Any]], Any]] = {
    "services": services,
    "add": add,
    "refill": refill,
    "refill_status": refill_status,
    "cancel": cancel,
    "balance": balance,
}


# --- The endpoint ---------------------------------------------------------------------------


def _answer(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        response = _json(answers.error(answers.INCORRECT_REQUEST), status=405)
        response["Allow"] = "GET, POST"
        return response
    try:
        params, key_in_url = _params(request)
    except BadRequest as exc:
        return _json(answers.error(exc.message))
    raw_key = _text(params, "key")
    try:
        return _dispatch(request, params, raw_key, key_in_url)
    except Exception as exc:
        return _unexpected(exc, sent_key=raw_key)


def _dispatch(request: HttpRequest, params: dict[str, Any], raw_key: str, key_in_url: bool) -> HttpResponse:
    wait = over_limit(raw_key=raw_key, ip=request.META.get("REMOTE_ADDR", ""))
    if wait is not None:
        response = _json(answers.error(answers.TOO_MANY_REQUESTS), status=429)
        response["Retry-After"] = str(wait)
        return response
    if key_in_url and not settings.API_ALLOW_KEY_IN_URL:
        # The owner keeps keys out of URLs (they end up in proxy and server logs): every action
        # is refused, with an error that says what to do instead.
        return _json(answers.error(answers.KEY_IN_URL))
    action = _text(params, "action")
    if action == "status":
        try:
            answer = status_by_key(raw_key, params)
        except BadRequest as exc:
            answer = answers.error(exc.message)
        return _json_text(answer) if isinstance(answer, str) else _json(answer)
    user = user_by_api_key(raw_key)
    if user is None:
        return _json(answers.error(answers.INVALID_KEY))
    if not action:
        return _json(answers.error(answers.INCORRECT_REQUEST))
    handler = ACTIONS.get(action)
    if handler is None:
        return _json(answers.error(answers.INVALID_ACTION))
    try:
        return _json(handler(request, user, params))
    except BadRequest as exc:
        return _json(answers.error(exc.message))


def log_unexpected(exc: BaseException, *, sent_key: str | None) -> None:
    """Log an unexpected failure with its traceback, the key the client sent blanked wherever
    the error text repeats it. The traceback goes in the message, already redacted, rather than
    as exc_info that every handler would format again from the raw exception."""
    text = "".join(traceback.format_exception(exc))
    if sent_key and len(sent_key) >= MIN_SECRET_LENGTH:
        text = text.replace(sent_key, "[redacted]")
    logger.error("api v2: unexpected error\n%s", text)


def _unexpected(exc: BaseException, *, sent_key: str | None) -> HttpResponse:
    # Never Django's HTML error page. The status stays 5xx on purpose: after an unexpected
    # failure the outcome of an `add` is unknown, and 5xx is what tells a client (ours
    # included) not to treat it as a refusal.
    log_unexpected(exc, sent_key=sent_key)
    return _json(answers.error(answers.INTERNAL_ERROR), status=500)


# JSON for programs, never a page a browser renders (nosniff, application/json): the policy
# header would only cost the busiest endpoint its time.
@csp_exempt()
@csrf_exempt
def api_v2(request: HttpRequest) -> HttpResponse:
    # Pinned: LocaleMiddleware activated the caller's Accept-Language or cookie for this request.
    request.answer_language = settings.LANGUAGE_CODE
    try:
        with translation.override(settings.LANGUAGE_CODE):
            response = _answer(request)
    except Exception as exc:
        # A failure while reading the request, before its key is known.
        response = _unexpected(exc, sent_key=None)
    # The language of the names answered (LocaleMiddleware would name the caller's instead).
    response["Content-Language"] = request.answer_language
    # Every answer says that `add` honours idempotency keys (the same key from the same
    # customer returns the order already placed), so a client panel can resend an `add` whose
    # answer it lost: it reads this header from any call, `balance` included.
    response[IDEMPOTENCY_HEADER] = IDEMPOTENCY_HONOURED
    return response
