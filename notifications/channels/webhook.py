"""Webhooks to API customers, signed as the Standard Webhooks specification says.

Each POST carries the event as JSON and three headers:

- `webhook-id`: the event's ID (`evt_...`), the same on every retry: receivers de-duplicate by it;
- `webhook-timestamp`: when this attempt was signed, in integer Unix seconds;
- `webhook-signature`: `v1,` and the base64 HMAC-SHA256, keyed with the base64-decoded part of
  the customer's `whsec_...` secret, over `<webhook-id>.<webhook-timestamp>.<body>`.

So the timestamp and the body are both signed (and the ID with them), and receivers may verify
with the specification's own libraries (`standardwebhooks` on PyPI, Packagist and npm).

The URL passes the provider URLs' SSRF guard twice: `webhook_url_check` when it is saved and
before each attempt, and the connection itself (upstream's CheckedAdapter) resolves the name
once and connects only to the addresses it checked, so a DNS answer that changes in between
(rebinding) cannot reach an internal address. Redirects are never followed.
"""

import base64
import datetime
import hashlib
import hmac
import json
import logging
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext_noop

from site_pages.selectors import brand
from upstream.services import upstream_session
from upstream.urlguard import UnsafeURL, check_url

from ..models import Delivery, Event, WebhookEndpoint
from . import Outcome

logger = logging.getLogger(__name__)


def webhook_url_check(url: str) -> None:
    """Raise UnsafeURL (with a message for the customer) when the panel may not call `url`."""
    if len(url) > 500:
        raise UnsafeURL(gettext_noop("The URL is too long (%(max)s characters at most)."), {"max": 500})
    allow_private = settings.UPSTREAM_ALLOW_PRIVATE
    check_url(url, allow_private=allow_private)
    # Plain http only where private addresses are allowed too (development and tests).
    if urlsplit(url).scheme != "https" and not allow_private:
        raise UnsafeURL(gettext_noop("The URL must start with https://."))


def display_url(url: str) -> str:
    """The URL without its query and fragment, which may hold the receiver's own token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:255]


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def payload(event: Event) -> bytes:
    body = {
        "id": event.public_id,
        "type": event.kind,
        "timestamp": event.created_at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": event.data,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def post(url: str, secret: str, event: Event) -> Outcome:
    body = payload(event)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"{brand().name} webhooks",
        "webhook-id": event.public_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, event.public_id, timestamp, body),
    }
    try:
        webhook_url_check(url)
    except UnsafeURL as exc:
        return Outcome(False, str(exc))
    session = upstream_session(1)
    try:
        response = session.post(
            url,
            data=body,
            headers=headers,
            timeout=(settings.WEBHOOK_CONNECT_TIMEOUT, settings.WEBHOOK_READ_TIMEOUT),
            allow_redirects=False,
        )
    except requests.Timeout:
        return Outcome(False, "The receiver did not answer in time.")
    except requests.ConnectionError as exc:
        reason = "refused by the address check" if "SSRF guard" in str(exc) else "could not connect"
        return Outcome(False, f"The receiver {reason}.")
    except requests.RequestException as exc:
        return Outcome(False, f"The request failed ({type(exc).__name__}).")
    finally:
        session.close()
    if 200 <= response.status_code < 300:
        return Outcome(True, status=response.status_code)
    return Outcome(False, f"The receiver answered HTTP {response.status_code}.", status=response.status_code)


class WebhookChannel:
    def notify(self, delivery: Delivery) -> Outcome:
        endpoint = WebhookEndpoint.objects.filter(user_id=delivery.user_id).first()
        if endpoint is None or not endpoint.wants(delivery.event.kind):
            return Outcome(False, "The webhook endpoint was removed or turned off.", retry=False, canceled=True)
        if delivery.recipient != display_url(endpoint.url):
            Delivery.objects.filter(pk=delivery.pk).update(recipient=display_url(endpoint.url))
        return post(endpoint.url, endpoint.secret, delivery.event)
