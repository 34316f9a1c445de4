"""Staff need TOTP, and a session in which it was used, before the backoffice lets them in."""

import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import reverse


@pytest.fixture(autouse=True)
def require_2fa(settings, no_staff_2fa):
    settings.STAFF_REQUIRE_2FA = True


def test_staff_without_totp_are_sent_to_set_it_up(as_admin):
    response = as_admin.get(reverse("admin:index"), follow=True)
    # allauth then asks for the password again before showing the QR code.
    assert reverse("mfa_activate_totp") in [url for url, _ in response.redirect_chain]


def test_staff_with_totp_must_have_used_it_in_this_session(as_admin, admin_staff):
    TOTP.activate(admin_staff, generate_totp_secret())
    response = as_admin.get(reverse("admin:orders_order_changelist"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("mfa_reauthenticate"))

    session = as_admin.session
    session["account_authentication_methods_user"] = str(admin_staff.pk)
    session["account_authentication_methods"] = [{"method": "mfa", "at": time.time(), "type": "totp"}]
    session.save()
    assert as_admin.get(reverse("admin:orders_order_changelist")).status_code == 200
    assert Authenticator.objects.filter(user=admin_staff).exists()


def test_the_admin_login_page_hands_over_to_allauth(client):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_setting_turns_it_off(as_admin, settings):
    settings.STAFF_REQUIRE_2FA = False
    assert as_admin.get(reverse("admin:index")).status_code == 200
