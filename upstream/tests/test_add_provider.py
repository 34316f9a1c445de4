"""add_provider's idempotency-key switches."""

import pytest
from django.core.management import call_command

from upstream.models import Provider


@pytest.mark.django_db
def test_add_provider_records_the_idempotency_key_switches():
    call_command(
        "add_provider", "p1", "--url", "http://127.0.0.1:9/api/v2", "--key", "k" * 20, "--honours-idempotency-keys"
    )
    provider = Provider.objects.get(name="p1")
    assert provider.honours_idempotency_keys and provider.send_idempotency_key
    assert provider.resends_unknown_outcomes

    call_command("add_provider", "p1", "--url", "http://127.0.0.1:9/api/v2", "--no-idempotency-key")
    provider.refresh_from_db()
    assert not provider.send_idempotency_key and not provider.resends_unknown_outcomes

    call_command("add_provider", "p2", "--url", "http://127.0.0.1:9/api/v2", "--key", "k" * 20)
    provider = Provider.objects.get(name="p2")
    assert provider.send_idempotency_key and not provider.honours_idempotency_keys
    assert not provider.resends_unknown_outcomes
