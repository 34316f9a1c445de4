"""What a refusal is about, read from the words real panels use (failover acts on two of them)."""

import pickle

import pytest

from upstream.client import Rejected
from upstream.client.errors import FUNDS, SERVICE, refusal_reason


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Incorrect service ID", SERVICE),
        ("Service not found or inactive", SERVICE),
        ("error.incorrect_service_id", SERVICE),
        ("Service is disabled", SERVICE),
        ("Unknown service", SERVICE),
        ("Not enough funds on balance", FUNDS),
        ("neworder.error.not_enough_funds", FUNDS),
        ("Insufficient balance", FUNDS),
        # About the request, not the service or our money: no other provider would do better.
        ("Service temporarily unavailable", None),
        ("This service does not support drip-feed", None),
        ("Refill is disabled for this service", None),
        ("Bad link", None),
        ("Quantity less than minimal 50", None),
        ("neworder.error.min_quantity", None),
        ("You have active order with this link. Please wait until order being completed.", None),
        ("Invalid API key", None),
        ("Your account is inactive", None),
    ],
)
def test_refusal_reason(message, reason):
    assert refusal_reason(message) == reason
    rejected = Rejected("add", message)
    assert rejected.reason == reason
    assert pickle.loads(pickle.dumps(rejected)).reason == reason
