"""Staff tokens: stored hashed, shown once, rotated and revoked by their owner or a superuser
(in the backoffice too), every change audited."""

import pytest
from django.urls import reverse

from accounts.models import AuditLog, User
from accounts.services import api_key_hash
from adminapi.models import StaffToken
from adminapi.services import TokenRefused, token_issue, token_lookup, token_revoke, token_rotate

from .conftest import staff_with_token


@pytest.fixture(autouse=True)
def _plain_static(plain_static_storage, settings):
    settings.STAFF_REQUIRE_2FA = False


def test_tokens_are_stored_hashed_and_shown_once(db):
    user, key = staff_with_token("boss", "Admin")
    token = StaffToken.objects.get(user=user)
    assert len(key) == 48 and token.key_hash == api_key_hash(key) and token.prefix == key[:8]
    assert key not in str(StaffToken.objects.values().get())
    assert token_lookup(key) == token
    assert token_lookup(key[:-1] + ("0" if key[-1] != "0" else "1")) is None
    assert AuditLog.objects.filter(action="adminapi.token_issue", actor=user).exists()


def test_only_the_owner_or_a_superuser_manages_a_token(db):
    owner, _ = staff_with_token("owner", "Admin")
    other, _ = staff_with_token("other", "Admin")
    root, _ = staff_with_token("root", superuser=True)
    token = StaffToken.objects.get(user=owner)
    with pytest.raises(TokenRefused):
        token_rotate(token_id=token.pk, actor=other)
    with pytest.raises(TokenRefused):
        token_revoke(token_id=token.pk, actor=other)
    with pytest.raises(TokenRefused):
        token_issue(owner_id=owner.pk, name="mine now", actor=other)
    token_issue(owner_id=owner.pk, name="by root", actor=root)
    assert token_revoke(token_id=token.pk, actor=root) is True
    assert token_revoke(token_id=token.pk, actor=root) is False
    assert AuditLog.objects.filter(action="adminapi.token_revoke", actor=root).count() == 1
    with pytest.raises(TokenRefused, match="already has an active token"):
        token_issue(owner_id=owner.pk, name="by root", actor=owner)


def test_backoffice_issue_rotate_and_revoke(client, db):
    user, _ = staff_with_token("boss", "Admin")
    other, _ = staff_with_token("helper", "Support")
    client.force_login(user)
    listing = reverse("admin:adminapi_stafftoken_changelist")
    page = client.get(listing).content.decode()
    assert "script" in page and "helper" not in page  # only one's own tokens
    shown = client.post(reverse("admin:adminapi_stafftoken_add"), {"name": "fulfilment worker"})
    assert shown.status_code == 200
    body = shown.content.decode()
    token = StaffToken.objects.get(user=user, name="fulfilment worker")
    key = body.split('id="bo-new-key">')[1].split("<")[0]
    assert token_lookup(key) == token
    assert key not in client.get(listing).content.decode()  # never shown again
    rotated = client.post(reverse("admin:adminapi_stafftoken_rotate", args=[token.pk])).content.decode()
    new_key = rotated.split('id="bo-new-key">')[1].split("<")[0]
    assert new_key != key and token_lookup(key) is None and token_lookup(new_key) == token
    client.post(reverse("admin:adminapi_stafftoken_revoke", args=[token.pk]))
    assert token_lookup(new_key) is None
    # Another staff member's token is out of reach.
    theirs = StaffToken.objects.get(user=other)
    assert client.post(reverse("admin:adminapi_stafftoken_revoke", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("admin:adminapi_stafftoken_rotate", args=[token.pk])).status_code == 405


def test_superuser_issues_for_another_staff_member(client, db):
    root, _ = staff_with_token("root", superuser=True)
    helper, _ = staff_with_token("helper", "Support")
    client.force_login(root)
    client.post(reverse("admin:adminapi_stafftoken_add"), {"name": "for helper", "user": helper.pk})
    assert StaffToken.objects.filter(user=helper, name="for helper").exists()
    assert "helper" in client.get(reverse("admin:adminapi_stafftoken_changelist")).content.decode()


def test_customers_have_no_token_page(client, customer):
    client.force_login(customer)
    response = client.get(reverse("admin:adminapi_stafftoken_changelist"))
    assert response.status_code == 302
    assert User.objects.get(pk=customer.pk).admin_api_tokens.count() == 0
