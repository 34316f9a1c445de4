"""Validation of an order's parameters by service type, worded as API v2 providers word errors.

The parameters of each type follow ../shared/reference/api-v2-in-the-wild.md. Min and max apply
to the quantity of one drip-feed run (the quantity field), and the charge covers all runs.

Every refusal is English text marked with gettext_noop and its values kept apart (OrderError's
params): the API answers the English, the dashboard shows `OrderError.translated()`.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.translation import gettext_noop

from catalog.models import DRIPFEED_TYPES, Service, ServiceType
from upstream.lines import LineError, join_lines, single_line, split_lines

from .errors import INCORRECT_SERVICE, OrderError

SUBSCRIPTION_DELAYS = {0, 5, 10, 15, 20, 30, 40, 50, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420, 480, 540, 600}
MAX_RUNS = 1000
MAX_INTERVAL = 60 * 24 * 30
MAX_TEXT = 20000
_SPACE = re.compile(r"\s")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Types whose quantity is the number of lines given (or a package): upstream takes no quantity.
QUANTITY_FROM_LINES = {
    ServiceType.PACKAGE,
    ServiceType.CUSTOM_COMMENTS,
    ServiceType.CUSTOM_COMMENTS_PACKAGE,
    ServiceType.MENTIONS_CUSTOM_LIST,
}


# Types whose quantity is given and which take text parameters; of those, the ones in
# LIST_PARAMS are lists (one item per line), the others a single value.
TEXT_PARAMS = {
    ServiceType.MENTIONS: ("usernames",),
    ServiceType.MENTIONS_WITH_HASHTAGS: ("usernames", "hashtags"),
    ServiceType.MENTIONS_HASHTAG: ("hashtag",),
    ServiceType.MENTIONS_USER_FOLLOWERS: ("username",),
    ServiceType.MENTIONS_MEDIA_LIKERS: ("media",),
    ServiceType.COMMENT_LIKES: ("username",),
    ServiceType.INVITES_FROM_GROUPS: ("groups",),
}
LIST_PARAMS = {"usernames", "hashtags", "groups"}
BAD_LINK = gettext_noop("Bad link")
INCORRECT_QUANTITY = gettext_noop("Incorrect quantity")


@dataclass
class OrderInput:
    link: str
    quantity: int
    runs: int | None = None
    interval: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


# How refusals name the list and text parameters (the English is the protocol's; pages translate it).
_LABELS = {
    "keywords": gettext_noop("Keywords"),
    "comments": gettext_noop("Comments"),
    "usernames": gettext_noop("Usernames"),
    "hashtags": gettext_noop("Hashtags"),
    "hashtag": gettext_noop("Hashtag"),
    "username": gettext_noop("Username"),
    "media": gettext_noop("Media"),
    "groups": gettext_noop("Groups"),
}


def _label(name: str) -> str:
    return _LABELS.get(name) or name.replace("_", " ").capitalize()


def _text(data: dict, name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        value = "\n".join(str(v) for v in value)
    return str(value).strip()


def _lines(data: dict, name: str, label: str | None = None) -> list[str]:
    """The lines of a list parameter as `upstream.lines` defines them: what we count and send."""
    text = _text(data, name)
    if len(text) > MAX_TEXT:
        raise OrderError(gettext_noop("%(label)s is too long"), name, {"label": label or _label(name)})
    try:
        return split_lines(text, label=label or _label(name))
    except LineError as exc:
        raise OrderError(exc.template, name, exc.params) from None


def _required(data: dict, name: str, label: str | None = None) -> str:
    """A one-line parameter (a username, a country): no line breaks, no control characters."""
    label = label or _label(name)
    try:
        value = single_line(_text(data, name), label=label)
    except LineError as exc:
        raise OrderError(exc.template, name, exc.params) from None
    if not value:
        raise OrderError(gettext_noop("%(label)s is required"), name, {"label": label})
    if len(value) > MAX_TEXT:
        raise OrderError(gettext_noop("%(label)s is too long"), name, {"label": label})
    return value


def _required_lines(data: dict, name: str) -> str:
    """A list parameter whose lines are not counted (the quantity is given): still rebuilt from
    its lines, so the provider receives exactly what we checked."""
    lines = _lines(data, name)
    if not lines:
        raise OrderError(gettext_noop("%(label)s is required"), name, {"label": _label(name)})
    return join_lines(lines)


def _int(data: dict, name: str, error: str, *, required: bool = True) -> int | None:
    raw = data.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise OrderError(error, name)
        return None
    if isinstance(raw, bool):
        raise OrderError(error, name)
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise OrderError(error, name) from None
    return value


def _link(data: dict) -> str:
    link = _text(data, "link")
    if not link or len(link) > 2000 or _SPACE.search(link) or _CONTROL.search(link):
        raise OrderError(BAD_LINK, "link")
    if "://" in link and not link.lower().startswith(("http://", "https://")):
        raise OrderError(BAD_LINK, "link")
    return link


def _check_range(service: Service, quantity: int) -> None:
    if quantity < service.min:
        raise OrderError(
            gettext_noop("Quantity less than minimal %(limit_value)s"), "quantity", {"limit_value": service.min}
        )
    if quantity > service.max:
        raise OrderError(
            gettext_noop("Quantity more than maximum %(limit_value)s"), "quantity", {"limit_value": service.max}
        )


def _quantity(data: dict, service: Service) -> int:
    quantity = _int(data, "quantity", INCORRECT_QUANTITY)
    if quantity is None or quantity <= 0:
        raise OrderError(INCORRECT_QUANTITY, "quantity")
    _check_range(service, quantity)
    return quantity


def _dripfeed(data: dict, service: Service) -> tuple[int | None, int | None]:
    runs = _int(data, "runs", gettext_noop("Incorrect runs"), required=False)
    interval = _int(data, "interval", gettext_noop("Incorrect interval"), required=False)
    if runs is None and interval is None:
        return None, None
    if not service.dripfeed:
        raise OrderError(gettext_noop("This service does not support drip-feed"), "runs")
    if runs is None:
        raise OrderError(gettext_noop("Runs is required"), "runs")
    if interval is None:
        raise OrderError(gettext_noop("Interval is required"), "interval")
    if not 2 <= runs <= MAX_RUNS:
        raise OrderError(gettext_noop("Runs must be between 2 and %(max)s"), "runs", {"max": MAX_RUNS})
    if not 1 <= interval <= MAX_INTERVAL:
        raise OrderError(
            gettext_noop("Interval must be between 1 and %(max)s minutes"), "interval", {"max": MAX_INTERVAL}
        )
    return runs, interval


def _counted(data: dict, service: Service, name: str, label: str, *, check_range: bool = True) -> tuple[int, str]:
    lines = _lines(data, name)
    if not lines:
        raise OrderError(gettext_noop("%(label)s is required"), name, {"label": label})
    if check_range:
        _check_range(service, len(lines))
    return len(lines), join_lines(lines)


def validate_order(service: Service, data: dict[str, Any]) -> OrderInput:
    """Check the parameters for the service's type; return what to store and send upstream."""
    kind = service.type
    if kind == ServiceType.DEFAULT:
        runs, interval = _dripfeed(data, service)
        return OrderInput(_link(data), _quantity(data, service), runs, interval)
    if kind == ServiceType.PACKAGE:
        return OrderInput(_link(data), 1)
    if kind == ServiceType.SEO:
        link, quantity = _link(data), _quantity(data, service)
        keywords = _lines(data, "keywords")
        if not keywords:
            raise OrderError(gettext_noop("%(label)s is required"), "keywords", {"label": _label("keywords")})
        return OrderInput(link, quantity, params={"keywords": join_lines(keywords)})
    if kind == ServiceType.CUSTOM_COMMENTS:
        link = _link(data)
        count, comments = _counted(data, service, "comments", _label("comments"))
        return OrderInput(link, count, params={"comments": comments})
    if kind == ServiceType.CUSTOM_COMMENTS_PACKAGE:
        link = _link(data)
        count, comments = _counted(data, service, "comments", _label("comments"), check_range=False)
        return OrderInput(link, count, params={"comments": comments})
    if kind == ServiceType.MENTIONS_CUSTOM_LIST:
        link = _link(data)
        count, usernames = _counted(data, service, "usernames", _label("usernames"))
        return OrderInput(link, count, params={"usernames": usernames})
    if kind in TEXT_PARAMS:
        link, quantity = _link(data), _quantity(data, service)
        params = {
            name: _required_lines(data, name) if name in LIST_PARAMS else _required(data, name)
            for name in TEXT_PARAMS[kind]
        }
        return OrderInput(link, quantity, params=params)
    if kind == ServiceType.POLL:
        link, quantity = _link(data), _quantity(data, service)
        answer = _int(data, "answer_number", gettext_noop("Answer number is required"))
        if answer is None or answer < 1:
            raise OrderError(gettext_noop("Incorrect answer number"), "answer_number")
        return OrderInput(link, quantity, params={"answer_number": answer})
    if kind == ServiceType.SUBSCRIPTIONS:
        return _subscription(data, service)
    if kind == ServiceType.WEB_TRAFFIC:
        return _web_traffic(data, service)
    raise OrderError(INCORRECT_SERVICE, "service")


def _subscription(data: dict, service: Service) -> OrderInput:
    username = _required(data, "username", _label("username"))
    if _SPACE.search(username) or len(username) > 200:
        raise OrderError(gettext_noop("Incorrect username"), "username")
    low = _int(data, "min", gettext_noop("Min is required"))
    high = _int(data, "max", gettext_noop("Max is required"))
    for value in (low, high):
        _check_range(service, value)
    if low > high:
        raise OrderError(gettext_noop("Min cannot be more than max"), "min")
    # We charge up front, so the number of future posts must be known: `posts` is required here
    # even though some providers make it optional.
    posts = _int(data, "posts", gettext_noop("Posts is required"))
    if posts < 1 or posts > 10000:
        raise OrderError(gettext_noop("Incorrect posts"), "posts")
    old_posts = _int(data, "old_posts", gettext_noop("Incorrect old posts"), required=False)
    if old_posts is not None and not 0 <= old_posts <= 100:
        raise OrderError(gettext_noop("Incorrect old posts"), "old_posts")
    delay = _int(data, "delay", gettext_noop("Delay is required"))
    if delay not in SUBSCRIPTION_DELAYS:
        raise OrderError(gettext_noop("Incorrect delay"), "delay")
    expiry = _text(data, "expiry")
    if expiry:
        try:
            datetime.strptime(expiry, "%d/%m/%Y")
        except ValueError:
            raise OrderError(gettext_noop("Incorrect expiry date"), "expiry") from None
    params = {"username": username, "min": low, "max": high, "posts": posts, "delay": delay}
    if old_posts is not None:
        params["old_posts"] = old_posts
    if expiry:
        params["expiry"] = expiry
    # Charged as `max` units for each of `posts` posts (plus old posts).
    return OrderInput("", high, runs=posts + (old_posts or 0), params=params)


def _web_traffic(data: dict, service: Service) -> OrderInput:
    link, quantity = _link(data), _quantity(data, service)
    runs, interval = _dripfeed(data, service)
    country = _required(data, "country", gettext_noop("Country"))
    device = _int(data, "device", gettext_noop("Device is required"))
    if device not in {1, 2, 3, 4, 5}:
        raise OrderError(gettext_noop("Incorrect device"), "device")
    traffic = _int(data, "type_of_traffic", gettext_noop("Type of traffic is required"))
    if traffic not in {1, 2, 3}:
        raise OrderError(gettext_noop("Incorrect type of traffic"), "type_of_traffic")
    params: dict[str, Any] = {"country": country, "device": device, "type_of_traffic": traffic}
    if traffic == 1:
        params["google_keyword"] = _required(data, "google_keyword", gettext_noop("Google keyword"))
    if traffic == 2:
        params["referring_url"] = _required(data, "referring_url", gettext_noop("Referring URL"))
    return OrderInput(link, quantity, runs, interval, params)


def upstream_params(order) -> dict[str, Any]:
    """The `add` parameters to send to the provider for an order."""
    params: dict[str, Any] = dict(order.params)
    kind = order.service.type
    if order.link:
        params["link"] = order.link
    if kind == ServiceType.SUBSCRIPTIONS:
        return params
    if kind not in QUANTITY_FROM_LINES:
        params["quantity"] = order.quantity
    if order.runs and kind in DRIPFEED_TYPES:
        params["runs"] = order.runs
        params["interval"] = order.interval
    return params
