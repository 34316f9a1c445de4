"""`rotate_encryption_key` re-encrypts every stored secret with the first configured key."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection

from upstream.models import Provider

OLD = "0cTBgyJy0vdR6OfmBGm0dn4gUjJ0zbpHdsDvM_L6Ikk="  # the test settings' key


def raw_key(provider: Provider) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM upstream_provider WHERE id = %s", [provider.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def providers(db, settings):
    settings.FIELD_ENCRYPTION_KEY = [OLD]
    return [
        Provider.objects.create(name=f"P{n}", api_url=f"http://127.0.0.1:{9000 + n}/api/v2", api_key=f"secret-{n}")
        for n in range(3)
    ]


def raw_method_secrets(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM billing_paymentmethod WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_rotation_re_encrypts_every_value_with_the_new_key(providers, settings):
    from billing.models import PaymentMethod

    # Payment methods' secret settings are encrypted the same way: the 4th value (the Stripe
    # method every installation has).
    method = PaymentMethod.objects.get(kind="stripe")
    method.set_secret_values({"secret_key": "sk_test_rotate"})
    method.save()
    new = Fernet.generate_key().decode()
    before = [raw_key(p) for p in providers]
    assert Fernet(OLD).decrypt(before[0].encode()) == b"secret-0"
    settings.FIELD_ENCRYPTION_KEY = [new, OLD]
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "re-encrypted 4 value(s)" in out.getvalue()
    assert b"sk_test_rotate" in Fernet(new).decrypt(raw_method_secrets(method.pk).encode())
    for n, provider in enumerate(providers):
        token = raw_key(provider).encode()
        assert Fernet(new).decrypt(token) == f"secret-{n}".encode()  # the new key alone reads it
        with pytest.raises(InvalidToken):
            Fernet(OLD).decrypt(token)
    # Running it again is harmless.
    call_command("rotate_encryption_key", stdout=StringIO())
    assert Fernet(new).decrypt(raw_key(providers[0]).encode()) == b"secret-0"


def test_dry_run_writes_nothing(providers, settings):
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode(), OLD]
    before = [raw_key(p) for p in providers]
    out = StringIO()
    call_command("rotate_encryption_key", "--dry-run", stdout=out)
    assert "would re-encrypt 4" in out.getvalue()  # 3 providers and the Stripe method
    assert [raw_key(p) for p in providers] == before


def test_a_value_no_key_reads_is_left_alone_and_reported(providers, settings):
    stranger = Fernet(Fernet.generate_key()).encrypt(b"unknown").decode()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE upstream_provider SET api_key = %s WHERE id = %s", [stranger, providers[1].pk])
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode(), OLD]
    err = StringIO()
    with pytest.raises(CommandError, match="1 value"):
        call_command("rotate_encryption_key", stdout=StringIO(), stderr=err)
    assert f"id={providers[1].pk}" in err.getvalue()
    assert raw_key(providers[1]) == stranger
