"""The webhook contract as customers read it (the Webhooks page and README): the verification
snippets are tested against real signed deliveries (tests/test_webhook_docs.py)."""

from django.utils.translation import gettext_lazy as _

PYTHON_SNIPPET = '''import base64, hashlib, hmac, json, time

SECRET = "whsec_..."  # your signing secret, from the Webhooks page


def verify(body: bytes, headers) -> dict:
    """The event if the request is ours; ValueError otherwise. `body`: the raw request body."""
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > 300:
        raise ValueError("timestamp too old or too new")
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for item in headers["webhook-signature"].split():
        version, _, signature = item.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return json.loads(body)
    raise ValueError("bad signature")
'''

PHP_SNIPPET = """<?php
$secret = 'whsec_...'; // your signing secret, from the Webhooks page

$body = file_get_contents('php://input');
$id = $_SERVER['HTTP_WEBHOOK_ID'] ?? '';
$timestamp = $_SERVER['HTTP_WEBHOOK_TIMESTAMP'] ?? '';
$signatures = $_SERVER['HTTP_WEBHOOK_SIGNATURE'] ?? '';

if (!ctype_digit($timestamp) || abs(time() - (int) $timestamp) > 300) {
    http_response_code(400);
    exit('timestamp too old or too new');
}
$key = base64_decode(substr($secret, strlen('whsec_')));
$expected = base64_encode(hash_hmac('sha256', "$id.$timestamp.$body", $key, true));
$valid = false;
foreach (explode(' ', $signatures) as $item) {
    $parts = explode(',', $item, 2);
    if (count($parts) === 2 && $parts[0] === 'v1' && hash_equals($expected, $parts[1])) {
        $valid = true;
    }
}
if (!$valid) {
    http_response_code(400);
    exit('bad signature');
}
$event = json_decode($body, true);
// Skip $event['id'] if you have seen it already, then act on $event['type'] and $event['data'].
http_response_code(204);
"""

LIBRARY_SNIPPET = """from standardwebhooks.webhooks import Webhook

event = Webhook("whsec_...").verify(raw_body, request_headers)  # raises if not ours
"""

EXAMPLE_PAYLOAD = """{
  "id": "evt_5f0c1e9b2a7d44c1b3e8a6f0",
  "type": "order.final",
  "timestamp": "2026-12-01T12:00:00Z",
  "data": {
    "order": 1042,
    "status": "Partial",
    "charge": "2.50000",
    "refund": "0.75000",
    "remains": 300,
    "quantity": 1000,
    "link": "https://instagram.com/example",
    "service": 12,
    "currency": "USD"
  }
}"""

# What each webhook event's "data" holds, as the Webhooks page shows it: the field names and
# values are the payload's own (never translated), the words around them are.
DATA_FIELDS = {
    # Translators: keep the field names (order, status, previous, start_count, remains) as they are.
    "order.status": _("order, status (the new one), previous, start_count, remains"),
    "order.final": _(
        # Translators: keep the field names and the status words (Completed, Partial, Canceled) as they are.
        "order, status (Completed, Partial or Canceled), charge, refund (total refunded), remains, "
        "quantity, link, service, currency"
    ),
    # Translators: keep the field names and the status words (Completed, Rejected) as they are.
    "refill.status": _("refill, order, status (Completed or Rejected), error"),
    "balance.low": "balance, threshold, currency",
    "catalog.update": _(
        # Translators: keep the field names and the change words (new, price_up...) as they are.
        "update, service, name, change (new, price_up, price_down, disabled, back), old_rate, new_rate, currency"
    ),
    "webhook.test": "message, sent_at",
}
