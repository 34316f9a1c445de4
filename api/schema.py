"""What API v2 accepts and answers, described once: for the documentation page, the OpenAPI
document and the contract tests.

Examples are built by the same functions in api/answers.py that build the live answers, and the
JSON Schemas below are checked against live answers by the tests, so none of it can drift.
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_noop

from panel.tenancy import panel_currency
from site_pages.selectors import brand

from . import answers

ID_LIMIT = "separated by commas, up to 100 IDs"


def _language_name(code: str) -> str:
    return f"{dict(settings.LANGUAGES).get(code, code)} ({code})"


# The `lang` parameter of `services` (api.apis.answer_language).
LANG_HELP = (
    "service and category names in this language, one of "
    + ", ".join(code for code, _ in settings.LANGUAGES)
    + ' (any case, "_" or "-"; a bare or regional code such as "pt" or "en-US" picks the shipped variant);'
    " any other value gives the default language"
)

# add: the parameters of each service type (api-v2-in-the-wild.md); "?" marks optional ones.
ADD_PARAMS: list[tuple[str, str]] = [
    ("Default", "link, quantity, runs?, interval? (drip-feed: quantity per run, interval in minutes)"),
    ("Package", "link"),
    ("SEO", "link, quantity, keywords (one per line)"),
    ("Custom Comments", "link, comments (one per line; the quantity is the number of lines)"),
    ("Mentions", "link, quantity, usernames"),
    ("Mentions with Hashtags", "link, quantity, usernames, hashtags"),
    ("Mentions Custom List", "link, usernames (one per line)"),
    ("Mentions Hashtag", "link, quantity, hashtag"),
    ("Mentions User Followers", "link, quantity, username"),
    ("Mentions Media Likers", "link, quantity, media"),
    ("Custom Comments Package", "link, comments (one per line)"),
    ("Comment Likes", "link, quantity, username (the comment's author)"),
    ("Poll", "link, quantity, answer_number"),
    ("Invites from Groups", "link, quantity, groups"),
    (
        "Subscriptions",
        "username, min, max, posts, old_posts?, delay (minutes: 0 5 10 15 20 30 40 50 60 90 120 150 180 210 "
        "240 270 300 360 420 480 540 600), expiry? (d/m/Y)",
    ),
    (
        "Web Traffic",
        "link, quantity, runs?, interval?, country, device (1 desktop, 2 Android, 3 iOS, 4 mixed mobile, "
        "5 mixed), type_of_traffic (1 Google keyword, 2 referrer, 3 blank), google_keyword (if 1), "
        "referring_url (if 2)",
    ),
]

# Every error text, with when it is answered. Order and refill errors can also appear inside the
# multi-ID answers, per ID. The "when" texts and the actions' descriptions are marked with
# gettext_noop: the API page translates them, the OpenAPI document stays English.
ERRORS: list[tuple[str, str]] = [
    (answers.INVALID_KEY, gettext_noop("the key is missing, unknown, rotated or its account is disabled")),
    (
        answers.INCORRECT_REQUEST,
        gettext_noop(
            "no action; an ID parameter missing, empty or blank (`order=` is the same as no `order`); "
            "a body that is neither a form nor a JSON object"
        ),
    ),
    (answers.KEY_IN_URL, gettext_noop("the key came in the URL's query string and this panel refuses keys in URLs")),
    (answers.INVALID_ACTION, gettext_noop("an action this API does not have")),
    (answers.TOO_MANY_IDS, gettext_noop("more than 100 IDs in `orders` or `refills`")),
    (answers.TOO_MANY_REQUESTS, gettext_noop("a rate limit is exceeded (HTTP 429, with Retry-After)")),
    ("Incorrect service ID", gettext_noop("add: the service is missing, empty, does not exist or is not on sale")),
    ("Bad link", gettext_noop("add: the link is missing or malformed")),
    ("Incorrect quantity", gettext_noop("add: the quantity is missing or not a positive whole number")),
    ("Quantity less than minimal 50", gettext_noop("add: below the service's min (the number is the min)")),
    ("Quantity more than maximum 10000", gettext_noop("add: above the service's max (the number is the max)")),
    ("Not enough funds on balance", gettext_noop("add: the charge exceeds the balance")),
    (
        "You have active order with this link. Please wait until order being completed.",
        gettext_noop("add: an order for the same service and link is still running"),
    ),
    ("This service does not support drip-feed", gettext_noop("add: runs/interval on a service without drip-feed")),
    ("Runs is required / Interval is required", gettext_noop("add: one of the two drip-feed fields without the other")),
    ("<Field> is required / Incorrect <field>", gettext_noop("add: a type's own parameter missing or invalid")),
    (answers.INCORRECT_ORDER, gettext_noop("status, refill, cancel: the order does not exist or is not yours")),
    ("Refill is disabled for this service", gettext_noop("refill: the service offers no refills")),
    ("The order is not completed", gettext_noop("refill: the order is not Completed")),
    ("Order not eligible for refill", gettext_noop("refill: past the service's refill period")),
    ("Refill already requested for this order", gettext_noop("refill: one is still open")),
    (
        "Refill was requested less than 24 hours ago",
        gettext_noop("refill: the order's last refill is less than 24 hours old"),
    ),
    (answers.REFILL_NOT_FOUND, gettext_noop("refill_status: the refill does not exist or is not yours")),
    ("Cancel is disabled for this service", gettext_noop("cancel: the service offers no cancels")),
    ("Order can not be canceled", gettext_noop("cancel: the order is already final")),
    ("Cancel already requested for this order", gettext_noop("cancel: one is still open")),
    (
        answers.INTERNAL_ERROR,
        gettext_noop("an unexpected server fault (HTTP 500); never for anything a request contains"),
    ),
]


def _service_examples() -> list[dict]:
    return [
        answers.service_entry(
            service=1,
            name="Followers",
            type="Default",
            category="First Category",
            rate=Decimal("0.9"),
            min=50,
            max=10000,
            refill=True,
            cancel=True,
            dripfeed=False,
        ),
        answers.service_entry(
            service=2,
            name="Comments",
            type="Custom Comments",
            category="Second Category",
            rate=Decimal("8"),
            min=10,
            max=1500,
            refill=False,
            cancel=True,
            dripfeed=False,
        ),
    ]


def _status_example(
    charge: str, start_count: int, status: str, remains: int, quantity: int | None = None, **dripfeed: int
) -> dict:
    return answers.order_status(
        charge=Decimal(charge),
        start_count=start_count,
        status=status,
        remains=remains,
        quantity=quantity or remains,
        currency=panel_currency(),
        **dripfeed,
    )


def actions() -> list[dict[str, Any]]:
    """Every action and variant: its parameters and an example answer, in the reference's order."""
    return [
        {
            "id": "services",
            "title": gettext_noop("Service list"),
            "params": [("action", "services"), ("lang", f"optional: {LANG_HELP}")],
            "answer": _service_examples(),
            "schema": "ServiceList",
            "note": "Your own prices. `rate` is per 1,000 (per package for Package and Custom Comments "
            "Package). `dripfeed` is present for the types that can drip-feed (Default, Web Traffic). "
            f"Names are in {_language_name(settings.LANGUAGE_CODE)} unless `lang` asks for another language; "
            "a name not translated into it yet comes in the default language. Every other answer and error is "
            "in English, whatever `lang`, Accept-Language or cookies say.",
        },
        {
            "id": "add",
            "title": gettext_noop("Add order"),
            "params": [
                ("action", "add"),
                ("service", gettext_noop("Service ID")),
                ("...", gettext_noop("the service type's parameters, below")),
                ("idempotency_key", gettext_noop("optional: retries with the same key return the same order")),
            ],
            "answer": answers.order_placed(23501),
            "schema": "Order",
            "note": gettext_noop("The `Idempotency-Key` header works like the parameter."),
        },
        {
            "id": "status",
            "title": gettext_noop("Order status"),
            "params": [("action", "status"), ("order", gettext_noop("Order ID"))],
            "answer": _status_example("0.27819", 3572, "Partial", 157),
            "schema": "Status",
            "note": gettext_noop(
                "`charge` is what you paid, net of refunds. Status is one of Pending, In progress, "
                'Processing, Completed, Partial, Canceled; a Completed order has `remains` "0". After '
                "`currency`, a drip-feed order's answer adds `runs` (the runs delivered so far) and a "
                "subscription's adds `posts` (the posts delivered so far)."
            ),
        },
        {
            "id": "status-multi",
            "title": gettext_noop("Multiple orders status"),
            "params": [
                ("action", "status"),
                ("orders", gettext_noop("Order IDs (separated by commas, up to 100 IDs)")),
            ],
            "answer": {
                "1": _status_example("0.27819", 3572, "Partial", 157),
                "10": answers.error(answers.INCORRECT_ORDER),
                "100": _status_example("1.44219", 234, "In progress", 10),
                "101": _status_example("2.40000", 120, "In progress", 300, quantity=100, runs=5, interval=30),
            },
            "schema": "StatusMap",
            "note": gettext_noop("Keyed by the IDs as sent, in the order sent; an ID sent twice is one key."),
        },
        {
            "id": "refill",
            "title": gettext_noop("Create refill"),
            "params": [("action", "refill"), ("order", gettext_noop("Order ID"))],
            "answer": answers.refill_created(1),
            "schema": "Refill",
        },
        {
            "id": "refill-multi",
            "title": gettext_noop("Create multiple refill"),
            "params": [
                ("action", "refill"),
                ("orders", gettext_noop("Order IDs (separated by commas, up to 100 IDs)")),
            ],
            "answer": [
                answers.refill_item("1", 1, None),
                answers.refill_item("2", 2, None),
                answers.refill_item("3", None, answers.INCORRECT_ORDER),
            ],
            "schema": "RefillList",
            "note": gettext_noop(
                "One entry per distinct ID, in the order first sent: an ID sent twice is refilled once."
            ),
        },
        {
            "id": "refill_status",
            "title": gettext_noop("Get refill status"),
            "params": [("action", "refill_status"), ("refill", gettext_noop("Refill ID"))],
            "answer": answers.refill_state("Completed"),
            "schema": "RefillStatus",
            "note": gettext_noop("Status is one of Pending, In progress, Completed, Rejected."),
        },
        {
            "id": "refill_status-multi",
            "title": gettext_noop("Get multiple refill status"),
            "params": [
                ("action", "refill_status"),
                ("refills", gettext_noop("Refill IDs (separated by commas, up to 100 IDs)")),
            ],
            "answer": [
                answers.refill_state_item("1", "Completed"),
                answers.refill_state_item("2", "Rejected"),
                answers.refill_state_item("3", None),
            ],
            "schema": "RefillStatusList",
            "note": gettext_noop("One entry per distinct ID, in the order first sent."),
        },
        {
            "id": "cancel",
            "title": gettext_noop("Create cancel"),
            "params": [
                ("action", "cancel"),
                ("orders", gettext_noop("Order IDs (separated by commas, up to 100 IDs)")),
            ],
            "answer": [answers.cancel_item("9", None, answers.INCORRECT_ORDER), answers.cancel_item("2", 1, None)],
            "schema": "CancelList",
            "note": gettext_noop(
                "One entry per distinct ID, in the order first sent: an ID sent twice is canceled once. "
                "A lone `order` works too."
            ),
        },
        {
            "id": "balance",
            "title": gettext_noop("User balance"),
            "params": [("action", "balance")],
            "answer": answers.balance(Decimal("100.84292"), panel_currency()),
            "schema": "Balance",
        },
    ]


# --- JSON Schemas of the answers --------------------------------------------------------------

_REF = "#/components/schemas/"
_MONEY = {"type": "string", "pattern": r"^[0-9]+\.[0-9]{5}$"}
_COUNT = {"type": "string", "pattern": r"^-?[0-9]+$"}
_ECHO_ID = {"type": ["integer", "string"]}
ORDER_STATUSES = ["Pending", "In progress", "Processing", "Completed", "Partial", "Canceled"]
REFILL_STATUSES = ["Pending", "In progress", "Completed", "Rejected"]


def _object(properties: dict, required: list[str] | None = None) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def _ref(name: str) -> dict:
    return {"$ref": _REF + name}


def answer_schemas() -> dict[str, dict]:
    error = _object({"error": {"type": "string"}})
    service_fields = {
        "service": {"type": "integer"},
        "name": {"type": "string"},
        "type": {"type": "string", "enum": [name for name, _ in ADD_PARAMS]},
        "category": {"type": "string"},
        "rate": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{2,5})?$"},
        "min": {"type": "string", "pattern": r"^[0-9]+$"},
        "max": {"type": "string", "pattern": r"^[0-9]+$"},
        "refill": {"type": "boolean"},
        "cancel": {"type": "boolean"},
        "dripfeed": {"type": "boolean"},
    }
    service = _object(service_fields, required=[name for name in service_fields if name != "dripfeed"])
    status = _object(
        {
            "charge": _MONEY,
            "start_count": _COUNT,
            "status": {"type": "string", "enum": ORDER_STATUSES},
            "remains": _COUNT,
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "runs": _COUNT,
            "posts": _COUNT,
        },
        required=["charge", "start_count", "status", "remains", "currency"],
    )
    return {
        "Error": error,
        "Service": service,
        "ServiceList": {"type": "array", "items": _ref("Service")},
        "Order": _object({"order": {"type": "integer"}}),
        "Status": status,
        "StatusMap": {"type": "object", "additionalProperties": {"oneOf": [_ref("Status"), _ref("Error")]}},
        "Refill": _object({"refill": {"type": "string", "pattern": "^[0-9]+$"}}),
        "RefillList": {
            "type": "array",
            "items": _object({"order": _ECHO_ID, "refill": {"oneOf": [{"type": "integer"}, _ref("Error")]}}),
        },
        "RefillStatus": _object({"status": {"type": "string", "enum": REFILL_STATUSES}}),
        "RefillStatusList": {
            "type": "array",
            "items": _object(
                {
                    "refill": _ECHO_ID,
                    "status": {"oneOf": [{"type": "string", "enum": REFILL_STATUSES}, _ref("Error")]},
                }
            ),
        },
        "CancelList": {
            "type": "array",
            "items": _object({"order": _ECHO_ID, "cancel": {"oneOf": [{"type": "integer"}, _ref("Error")]}}),
        },
        "Balance": _object({"balance": _MONEY, "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}}),
    }


# Which answers each action may give besides {"error": ...}.
ACTION_ANSWERS = {
    "services": ["ServiceList"],
    "add": ["Order"],
    "status": ["Status", "StatusMap"],
    "refill": ["Refill", "RefillList"],
    "refill_status": ["RefillStatus", "RefillStatusList"],
    "cancel": ["CancelList"],
    "balance": ["Balance"],
}

REQUEST_FIELDS: dict[str, tuple[dict, str]] = {
    "key": ({"type": "string"}, "Your API key"),
    "action": ({"type": "string", "enum": list(ACTION_ANSWERS)}, "What to do"),
    "service": ({"type": "string"}, "add: service ID"),
    "link": ({"type": "string"}, "add: link"),
    "quantity": ({"type": "string"}, "add: quantity (per run for drip-feed)"),
    "runs": ({"type": "string"}, "add: drip-feed runs"),
    "interval": ({"type": "string"}, "add: minutes between drip-feed runs"),
    "comments": ({"type": "string"}, "add: one comment per line"),
    "keywords": ({"type": "string"}, "add: one keyword per line"),
    "usernames": ({"type": "string"}, "add: usernames"),
    "username": ({"type": "string"}, "add: username"),
    "hashtags": ({"type": "string"}, "add: hashtags"),
    "hashtag": ({"type": "string"}, "add: hashtag"),
    "media": ({"type": "string"}, "add: media URL"),
    "answer_number": ({"type": "string"}, "add: poll answer number"),
    "groups": ({"type": "string"}, "add: groups"),
    "min": ({"type": "string"}, "add (Subscriptions): min per post"),
    "max": ({"type": "string"}, "add (Subscriptions): max per post"),
    "posts": ({"type": "string"}, "add (Subscriptions): future posts"),
    "old_posts": ({"type": "string"}, "add (Subscriptions): old posts"),
    "delay": ({"type": "string"}, "add (Subscriptions): delay in minutes"),
    "expiry": ({"type": "string"}, "add (Subscriptions): d/m/Y"),
    "country": ({"type": "string"}, "add (Web Traffic): country"),
    "device": ({"type": "string"}, "add (Web Traffic): device 1-5"),
    "type_of_traffic": ({"type": "string"}, "add (Web Traffic): 1-3"),
    "google_keyword": ({"type": "string"}, "add (Web Traffic): keyword"),
    "referring_url": ({"type": "string"}, "add (Web Traffic): referrer"),
    "idempotency_key": ({"type": "string", "maxLength": 1000}, "add: retry-safe key"),
    "order": ({"type": "string"}, "status, refill: one order ID"),
    "orders": ({"type": "string"}, f"status, refill, cancel: order IDs ({ID_LIMIT})"),
    "refill": ({"type": "string"}, "refill_status: one refill ID"),
    "refills": ({"type": "string"}, f"refill_status: refill IDs ({ID_LIMIT})"),
    "lang": ({"type": "string"}, f"services: {LANG_HELP}"),
}


def openapi(server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI 3.0 document of /api/v2."""
    request_schema = {
        "type": "object",
        "required": ["key", "action"],
        "properties": {name: {**schema, "description": text} for name, (schema, text) in REQUEST_FIELDS.items()},
    }
    answer_names = sorted({name for names in ACTION_ANSWERS.values() for name in names})
    ok = {
        "description": 'The action\'s answer, or {"error": "..."} (errors are HTTP 200, as in API v2).',
        "content": {"application/json": {"schema": {"oneOf": [_ref(n) for n in [*answer_names, "Error"]]}}},
    }
    error = {"content": {"application/json": {"schema": _ref("Error")}}}
    responses = {
        "200": ok,
        "429": {"description": "Too many requests", **error},
        "500": {"description": "Unexpected server fault", **error},
    }
    description = "\n".join(
        f"- `{a['id']}`: {', '.join(name + '=' + value for name, value in a['params'])} -> {a['schema']}"
        for a in actions()
    )
    query_parameters = [
        {"name": name, "in": "query", "required": name in ("key", "action"), "schema": schema, "description": text}
        for name, (schema, text) in REQUEST_FIELDS.items()
        if name != "idempotency_key"
    ]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"{brand().name} API v2",
            "version": "2",
            "description": "The SMM panel API v2. Every call takes `key` and `action`"
            + ("." if settings.API_ALLOW_KEY_IN_URL else ", the key in the POST body: keys in URLs are refused.")
            + "\n\n"
            + description,
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/api/v2": {
                "post": {
                    "operationId": "apiV2Post",
                    "summary": "Call an action (form-encoded or JSON body; parameters in the URL work too)",
                    "parameters": [
                        {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}}
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-www-form-urlencoded": {"schema": request_schema},
                            "application/json": {"schema": request_schema},
                        },
                    },
                    "responses": responses,
                },
                "get": {
                    "operationId": "apiV2Get",
                    "summary": "Call an action with query parameters (any action)",
                    "parameters": query_parameters,
                    "responses": responses,
                },
            }
        },
        "components": {"schemas": answer_schemas()},
    }
