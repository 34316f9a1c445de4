"""Redirect targets that come from the client stay on this site."""

import pytest
from django.urls import reverse

EVIL = ["https://evil.example/phish", "//evil.example/phish", "https:evil.example", "/\\evil.example"]


@pytest.mark.parametrize("target", EVIL)
def test_the_login_of_a_logged_in_staff_member_never_leaves_the_site(as_admin, target):
    response = as_admin.get(reverse("admin:login"), {"next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_the_login_follows_a_next_on_this_site(as_admin):
    target = reverse("admin:orders_order_changelist") + "?q=1"
    response = as_admin.get(reverse("admin:login"), {"next": target})
    assert response["Location"] == target


@pytest.mark.parametrize("target", EVIL)
def test_the_login_handover_to_allauth_carries_no_foreign_next(client, target):
    response = client.get(reverse("admin:login"), {"next": target})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "evil.example" not in response["Location"]


@pytest.mark.parametrize("target", EVIL)
def test_provider_buttons_go_back_only_to_this_site(as_admin, provider, target):
    url = reverse("admin:bo_provider_action", args=[provider.pk, "test"])
    response = as_admin.post(url, {"next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:upstream_provider_change", args=[provider.pk])
    assert as_admin.get(url, {"next": target})["Location"] == reverse(
        "admin:upstream_provider_change", args=[provider.pk]
    )


def test_provider_buttons_go_back_to_the_page_they_were_pressed_on(as_admin, provider):
    back = reverse("admin:bo_import", args=[provider.pk]) + "?q=likes"
    response = as_admin.post(reverse("admin:bo_provider_action", args=[provider.pk, "test"]), {"next": back})
    assert response["Location"] == back
