"""The backoffice in the staff member's language: refusals and outcomes of staff actions translated
on the page while the Admin API answers the same refusal in English, status words shown by their
translated labels with the stored values unchanged, counts with plural forms, app names."""

import json
import re

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext

from backoffice import services
from backoffice.services import staff_text
from orders import manual
from orders.admin import forward_state_label
from orders.models import ForwardState, Order, Status
from orders.placement import order_place
from orders.staff import ActionError, StaffText, Term
from testing.manual import make_manual_service

# A template as a translator would write it, for the templates the catalogues do not have yet.
FAKE_RU = {
    "Order %(id)s is %(status)s: a final order does not go back in progress.": (
        "Заказ %(id)s уже %(status)s: завершённый заказ не возвращается в работу."
    ),
    "%(field)s must be a whole number.": "%(field)s: нужно целое число.",
}


@pytest.fixture
def fake_catalogue(monkeypatch):
    """The backoffice's gettext with FAKE_RU's templates added while Russian is active."""
    real = services._

    def translate(text):
        if translation.get_language() == "ru" and text in FAKE_RU:
            return FAKE_RU[text]
        return real(text)

    monkeypatch.setattr(services, "_", translate)


@pytest.fixture
def russian_admin(admin_staff):
    admin_staff.language = "ru"
    admin_staff.save(update_fields=["language"])
    return admin_staff


@pytest.fixture
def synced(provider):
    from catalog.sync import sync_provider

    assert sync_provider(provider_id=provider.pk).ok
    return provider


@pytest.fixture
def manual_service(db):
    return make_manual_service()


def completed_manual_order(customer, service, actor) -> Order:
    order = order_place(user=customer, service_id=service.pk, data={"link": "https://e.com/1", "quantity": 1000}).order
    manual.manual_update(
        order_id=order.pk, actor_id=actor.pk, version=manual.order_version(order), status=Status.COMPLETED
    )
    return Order.objects.get(pk=order.pk)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_a_refusal_is_english_for_the_admin_api_and_translated_for_the_page(customer, manual_service, admin_staff):
    order = completed_manual_order(customer, manual_service, admin_staff)
    with pytest.raises(ActionError) as caught, translation.override("ru"):
        manual.manual_update(order_id=order.pk, actor_id=admin_staff.pk, version=None, status=Status.IN_PROGRESS)
    exc = caught.value
    # Raised while Russian was active, the text the Admin API answers is today's English.
    assert str(exc) == f"Order {order.pk} is Completed: a final order does not go back in progress."
    assert exc.text.template == "Order %(id)s is %(status)s: a final order does not go back in progress."
    with translation.override("ru"):
        shown = staff_text(exc)
    # The stored status word is shown by its translated label.
    assert "Выполнен" in shown and "Completed" not in shown


def test_the_page_translates_the_template_and_its_values(fake_catalogue, customer, manual_service, admin_staff):
    order = completed_manual_order(customer, manual_service, admin_staff)
    with pytest.raises(ActionError) as caught:
        manual.manual_update(order_id=order.pk, actor_id=admin_staff.pk, version=None, status=Status.IN_PROGRESS)
    with translation.override("ru"):
        assert staff_text(caught.value) == (
            f"Заказ {order.pk} уже Выполнен: завершённый заказ не возвращается в работу."
        )
    with pytest.raises(ActionError) as caught:
        manual.manual_update(order_id=order.pk, actor_id=admin_staff.pk, version=None, start_count="many")
    assert str(caught.value) == "Start count must be a whole number."
    with translation.override("ru"):
        assert staff_text(caught.value) == "Начальное количество: нужно целое число."


def test_the_manual_order_page_shows_the_refusal_in_the_staff_members_language(
    fake_catalogue, client, russian_admin, customer, manual_service
):
    order = completed_manual_order(customer, manual_service, russian_admin)
    client.force_login(russian_admin)
    url = reverse("admin:bo_manual_order", args=[order.pk])
    response = client.post(url, {"status": "In progress", "version": manual.order_version(order)}, follow=True)
    assert messages_of(response) == [f"Заказ {order.pk} уже Выполнен: завершённый заказ не возвращается в работу."]


def test_the_admin_api_answers_the_same_refusal_in_english_whatever_the_language(
    client, russian_admin, customer, manual_service
):
    from adminapi.services import token_issue

    order = completed_manual_order(customer, manual_service, russian_admin)
    _, key = token_issue(owner_id=russian_admin.pk, name="script", actor=russian_admin)
    response = client.post(
        f"/adminapi/v2/orders/{order.pk}",
        json.dumps({"version": manual.order_version(order), "status": "in_progress"}),
        content_type="application/json",
        HTTP_X_API_KEY=key,
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    assert response.status_code == 400
    assert response.json()["error"] == f"Order {order.pk} is Completed: a final order does not go back in progress."


def test_staff_texts_show_stored_choices_by_their_labels_and_terms_translated():
    text = StaffText(
        "Order %(id)s is %(state)s; %(status)s; %(field)s.",
        {
            "id": 7,
            "state": ForwardState.UNKNOWN,
            "status": Status.IN_PROGRESS,
            "field": Term("Remains"),
        },
    )
    assert str(text) == "Order 7 is Unknown outcome; In progress; Remains."
    with translation.override("ru"):
        shown = staff_text(text)
        expected = f"Order 7 is {forward_state_label('unknown')}; {gettext('In progress')}; {gettext('Remains')}."
    assert shown == expected and "В процессе" in shown and "Остаток" in shown  # noqa: RUF001
    # A plain string (a caller that has no template) is shown as it is.
    assert staff_text("Refill 5 queued.") == "Refill 5 queued."


def test_the_manual_order_status_select_shows_translated_labels_and_keeps_the_values(
    client, russian_admin, customer, manual_service
):
    order = order_place(user=customer, service_id=manual_service.pk, data={"link": "https://e.com/1", "quantity": 1000})
    client.force_login(russian_admin)
    body = client.get(reverse("admin:bo_manual_order", args=[order.order.pk])).content.decode()
    select = re.search(r'<select name="status".*?</select>', body, re.S).group(0)
    options = dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select))
    with translation.override("ru"):
        expected = {str(s): gettext(str(s)) for s in manual.SETTABLE_STATUSES}
    assert {value: label for value, label in options.items() if value} == expected
    assert options["Completed"] == "Выполнен" and options["In progress"] == "В процессе"  # noqa: RUF001
    # The queue's filter, the same way.
    queue = client.get(reverse("admin:bo_manual_queue")).content.decode()
    assert '<option value="Completed">Выполнен</option>' in queue


def test_a_refund_is_one_whole_sentence_in_the_message(client, admin_staff, customer, manual_service):
    order = order_place(
        user=customer, service_id=manual_service.pk, data={"link": "https://e.com/1", "quantity": 1000}
    ).order
    client.force_login(admin_staff)
    url = reverse("admin:bo_manual_order", args=[order.pk])
    response = client.post(url, {"status": "Canceled", "version": manual.order_version(order)}, follow=True)
    refunded = Order.objects.get(pk=order.pk).refunded
    assert refunded > 0
    assert messages_of(response) == [f"Order {order.pk} saved: Canceled. Refunded {refunded}."]


def test_the_import_page_writes_the_selected_count_for_every_number(as_admin, synced):
    body = as_admin.get(reverse("admin:bo_import", args=[synced.pk])).content.decode()
    rows = body.count('name="upstream"')
    assert rows > 2
    texts = json.loads(re.search(r'id="bo-count" data-texts="([^"]*)"', body).group(1).replace("&quot;", '"'))
    assert len(texts) == rows + 1
    assert texts[:3] == ["0 selected", "1 selected", "2 selected"]
    russian = as_admin.get(reverse("admin:bo_import", args=[synced.pk]), HTTP_ACCEPT_LANGUAGE="ru")
    with translation.override("ru"):
        expected = [ngettext("%(count)s selected", "%(count)s selected", n) % {"count": n} for n in range(6)]
    assert russian.context["selected_texts"][:6] == expected


def test_every_app_has_a_translatable_name():
    for label, english in {
        "accounts": "Accounts",
        "upstream": "Upstream",
        "catalog": "Catalog",
        "orders": "Orders",
        "billing": "Billing",
        "support": "Support",
        "notifications": "Notifications",
        "api": "API",
        "dashboard": "Dashboard",
        "site_pages": "Public pages and branding",
        "adminapi": "Admin API",
        "backoffice": "Backoffice",
    }.items():
        name = apps.get_app_config(label).verbose_name
        with translation.override("en"):
            assert str(name) == english
        with translation.override("ru"):
            assert str(name) == gettext(english)
    with translation.override("ru"):
        assert str(apps.get_app_config("orders").verbose_name) == "Заказы"


def test_the_chart_carries_its_series_names_in_the_readers_language(client, russian_admin):
    client.force_login(russian_admin)
    response = client.get(reverse("admin:bo_reports"))
    names = json.loads(response.context["chart_json"])["names"]
    with translation.override("ru"):
        assert names == {"revenue": gettext("Revenue"), "cost": gettext("Upstream cost"), "profit": gettext("Profit")}
    assert names["revenue"] == "Выручка"
