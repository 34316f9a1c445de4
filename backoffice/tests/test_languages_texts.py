# ruff: noqa: RUF001 (the Russian texts a translator would write)
"""The last English left in backoffice pages: each text is translated where a page shows it, while
what the Admin API answers, what is stored and what is logged stays English. Texts the catalogues
do not have yet are added for the test (catalogue.translations_added), as a translator would
write them."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, ngettext

from adminapi.models import StaffToken
from adminapi.services import TokenRefused, token_issue
from backoffice.services import staff_text
from billing.admin.deposits import lookup_label
from billing.gateways.base import GatewayError, Outcome, Report
from billing.models import Deposit, GatewayEvent, PaymentMethod
from billing.payments import (
    LOOKUP_APPLIED,
    LOOKUP_FAILED,
    LOOKUP_NO_ANSWER,
    LOOKUP_NOTHING,
    deposit_ask,
    deposit_create,
)
from billing.payments import deposits as deposits_module
from orders.failover import CIRCUIT_OPEN, FAILOVER_EVENT, REASONS
from orders.models import Order, OrderEvent, Refill
from orders.placement import order_place
from orders.refills import refill_requeue
from orders.staff import ActionError
from testing.manual import make_manual_service
from upstream.models import Provider
from upstream.services import provider_client

from .catalogue import translations_added


@pytest.fixture
def russian_admin(admin_staff):
    admin_staff.language = "ru"
    admin_staff.save(update_fields=["language"])
    return admin_staff


@pytest.fixture
def as_russian(client, russian_admin):
    client.force_login(russian_admin)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def ru(text: str) -> str:
    with translation.override("ru"):
        return gettext(text)


# --- Retrying a refill (orders.refills) ----------------------------------------------------------

REFILL_RU = {
    "Refill %(id)s is of a manual order: resolve it in the manual queue.": (
        "Рефилл %(id)s относится к ручному заказу: решите его в очереди ручных заказов."
    ),
    "Refill %(id)s was sent; its status is polled.": "Рефилл %(id)s отправлен; его статус опрашивается.",
    "Order %(id)s already has an open refill.": "У заказа %(id)s уже есть открытый рефилл.",
}


def test_a_manual_orders_refill_refusal_is_english_in_str_and_translated_on_the_page(as_russian, customer):
    service = make_manual_service()
    order = order_place(user=customer, service_id=service.pk, data={"link": "https://e.com/1", "quantity": 1000}).order
    refill = Refill.objects.create(order=order, user=customer, provider=None, state=Refill.State.MANUAL)
    with pytest.raises(ActionError) as caught, translation.override("ru"):
        refill_requeue(refill_id=refill.pk, actor_id=None)
    # What the Admin API and logs read: English whatever language is active.
    assert str(caught.value) == f"Refill {refill.pk} is of a manual order: resolve it in the manual queue."
    with translations_added("ru", REFILL_RU):
        response = as_russian.post(reverse("admin:bo_refill_retry", args=[refill.pk]), follow=True)
    assert messages_of(response) == [
        f"Рефилл {refill.pk} относится к ручному заказу: решите его в очереди ручных заказов."
    ]


def test_retrying_a_sent_an_open_and_a_rejected_refill_says_so_in_the_readers_language(
    as_russian, customer, make_service
):
    service = make_service("Default")
    order = order_place(user=customer, service_id=service.pk, data={"link": "https://e.com/2", "quantity": service.min})
    order = Order.objects.get(pk=order.order.pk)
    sent = Refill.objects.create(order=order, user=customer, provider=order.provider, state=Refill.State.SENT)
    change = refill_requeue(refill_id=sent.pk, actor_id=None)
    assert not change.done and str(change.message) == f"Refill {sent.pk} was sent; its status is polled."
    with translations_added("ru", REFILL_RU):
        response = as_russian.post(reverse("admin:bo_refill_retry", args=[sent.pk]), follow=True)
    assert messages_of(response) == [f"Рефилл {sent.pk} отправлен; его статус опрашивается."]

    # A rejected refill retried while the order has another one open.
    rejected = Refill.objects.create(
        order=order, user=customer, provider=order.provider, state=Refill.State.REJECTED, status=Refill.Status.REJECTED
    )
    with pytest.raises(ActionError) as caught:
        refill_requeue(refill_id=rejected.pk, actor_id=None)
    assert str(caught.value) == f"Order {order.pk} already has an open refill."
    with translations_added("ru", REFILL_RU):
        response = as_russian.post(reverse("admin:bo_refill_retry", args=[rejected.pk]), follow=True)
    assert messages_of(response) == [f"У заказа {order.pk} уже есть открытый рефилл."]

    # Once the other is done, it is queued again: English for the audit, the page's language on it.
    Refill.objects.filter(pk=sent.pk).update(status=Refill.Status.COMPLETED)
    change = refill_requeue(refill_id=rejected.pk, actor_id=None)
    assert change.done and str(change.message) == f"Refill {rejected.pk} queued."
    with translation.override("ru"):
        assert staff_text(change.message) == ru("Refill %(id)s queued.") % {"id": rejected.pk}
        assert staff_text(change.message) != str(change.message)


# --- Admin API tokens (adminapi) -----------------------------------------------------------------

TOKEN_RU = {
    "%(owner)s already has an active token named “%(name)s”.": "У %(owner)s уже есть действующий токен «%(name)s».",
    "A revoked token cannot be rotated; issue a new one.": "Отозванный токен нельзя заменить; выпустите новый.",
}


def test_a_token_refusal_is_english_and_the_token_pages_translate_it(as_russian, russian_admin):
    token_issue(owner_id=russian_admin.pk, name="worker", actor=russian_admin)
    with pytest.raises(TokenRefused) as caught, translation.override("ru"):
        token_issue(owner_id=russian_admin.pk, name="worker", actor=russian_admin)
    assert str(caught.value) == "boss already has an active token named “worker”."
    with translations_added("ru", TOKEN_RU):
        response = as_russian.post(reverse("admin:adminapi_stafftoken_add"), {"name": "worker"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["У boss уже есть действующий токен «worker»."]
    assert StaffToken.objects.filter(name="worker").count() == 1


def test_rotating_a_revoked_token_is_refused_in_the_staff_members_language(as_russian, russian_admin):
    token, _ = token_issue(owner_id=russian_admin.pk, name="old", actor=russian_admin)
    as_russian.post(reverse("admin:adminapi_stafftoken_revoke", args=[token.pk]), follow=True)
    with translations_added("ru", TOKEN_RU):
        response = as_russian.post(reverse("admin:adminapi_stafftoken_rotate", args=[token.pk]), follow=True)
    assert messages_of(response) == ["Отозванный токен нельзя заменить; выпустите новый."]


# --- Failover reasons (orders.failover) ----------------------------------------------------------


def test_failover_reasons_stay_english_in_events_and_are_translated_in_the_tables(
    as_russian, customer, make_service, provider
):
    service = make_service("Default")
    backup = Provider.objects.create(name="backup", api_url="https://backup.example/api/v2", api_key="k" * 20)
    order = Order.objects.create(
        user=customer,
        service=service,
        provider=backup,
        upstream_service_id="9",
        quantity=service.min,
        charge=Decimal("1"),
        cost_expected=Decimal("0.5"),
        refunded=Decimal("0"),
    )
    reason = REASONS[CIRCUIT_OPEN]
    assert reason == "circuit breaker open"
    OrderEvent.objects.create(
        order=order,
        kind=FAILOVER_EVENT,
        message=f"sim refused ({reason}: open); moved to backup service 9",
        data={"reason": CIRCUIT_OPEN, "from_provider": provider.pk, "to_provider": backup.pk},
    )
    with translations_added("ru", {"circuit breaker open": "предохранитель разомкнут"}):
        pages = {
            "bo-failovers-away": reverse("admin:upstream_provider_change", args=[provider.pk]),
            "bo-failovers-taken": reverse("admin:upstream_provider_change", args=[backup.pk]),
            "bo-failovers": reverse("admin:catalog_service_change", args=[service.pk]),
        }
        bodies = {table: as_russian.get(url).content.decode() for table, url in pages.items()}
    for table, body in bodies.items():
        rows = re.search(rf'<table id="{table}">.*?</table>', body, re.S).group(0)
        assert "<td>предохранитель разомкнут</td>" in rows, table
        assert "circuit breaker open" not in rows, table


# --- Asking a gateway about a deposit (billing) --------------------------------------------------


class LookupGateway:
    """A gateway that can look a deposit up and answers what the test says."""

    can_lookup = True

    def __init__(self, answer):
        self.answer = answer

    def lookup(self, request):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer(request) if callable(self.answer) else self.answer


@pytest.fixture
def card(db, settings):
    settings.PANEL_CURRENCY = "USD"
    method = PaymentMethod(name="Card", kind="stripe", min_amount=Decimal("5"), max_amount=Decimal("1000"))
    method.set_secret_values({"secret_key": "sk_test_x", "webhook_secret": "whsec_x"})
    method.save()
    return method


@pytest.fixture
def open_deposit(customer, card):
    deposit = deposit_create(user=customer, method=card, amount=Decimal("20"))
    Deposit.objects.filter(pk=deposit.pk).update(status="pending", external_id=f"cs_{deposit.pk}")
    deposit.refresh_from_db()
    return deposit


def answering(monkeypatch, answer) -> None:
    monkeypatch.setattr(deposits_module, "gateway_for", lambda method: LookupGateway(answer))


def paid(deposit: Deposit, amount: Decimal | None = None) -> Report:
    return Report(
        outcome=Outcome.PAID,
        deposit_id=deposit.pk,
        event_id=f"evt_{deposit.pk}",
        transaction_id=f"tx_{deposit.pk}",
        external_id=deposit.external_id,
        amount=deposit.charge_amount if amount is None else amount,
        currency=deposit.charge_currency,
    )


def test_asking_the_gateway_says_what_it_came_to_and_keeps_the_stored_outcome_english(monkeypatch, open_deposit, card):
    answering(monkeypatch, GatewayError("timed out"))
    assert deposit_ask(deposit_id=open_deposit.pk).kind == LOOKUP_FAILED
    answering(monkeypatch, None)
    assert deposit_ask(deposit_id=open_deposit.pk).kind == LOOKUP_NO_ANSWER
    answering(monkeypatch, paid(open_deposit))
    with translation.override("ru"):
        lookup = deposit_ask(deposit_id=open_deposit.pk)
    assert (lookup.kind, lookup.status, lookup.needs_review) == (LOOKUP_APPLIED, "paid", False)
    event = GatewayEvent.objects.get(deposit=open_deposit)
    assert lookup.text == event.outcome and "credited" in event.outcome
    assert deposit_ask(deposit_id=open_deposit.pk).kind == LOOKUP_NOTHING  # paid: closed
    with translation.override("ru"):
        assert lookup_label(lookup) == gettext("Paid") == "Оплачен"


def test_the_deposits_page_says_the_lookups_outcome_in_the_staff_members_language(
    monkeypatch, as_russian, open_deposit, customer, card
):
    short = deposit_create(user=customer, method=card, amount=Decimal("30"))
    Deposit.objects.filter(pk=short.pk).update(status="pending", external_id=f"cs_{short.pk}")
    short.refresh_from_db()
    answers = {open_deposit.pk: paid(open_deposit), short.pk: paid(short, amount=Decimal("1"))}
    answering(monkeypatch, lambda request: answers[request.deposit_id])
    review_ru = "%(status)s; оставлено на проверку (см. заметку)."
    with translations_added("ru", {"%(status)s; left for review (see its note).": review_ru}):
        response = as_russian.post(
            reverse("admin:billing_deposit_changelist"),
            {"action": "ask_gateway", "_selected_action": [open_deposit.pk, short.pk]},
            follow=True,
        )
    said = messages_of(response)
    with translation.override("ru"):
        expected = {
            gettext("Deposit %(id)s: %(outcome)s") % {"id": open_deposit.pk, "outcome": gettext("Paid")},
            gettext("Deposit %(id)s: %(outcome)s")
            % {"id": short.pk, "outcome": review_ru % {"status": gettext("Pending")}},
        }
    assert set(said) == expected
    assert all("credited" not in text and "wrong amount" not in text for text in said)
    # The stored outcome of the short payment is the English one, flagged for staff.
    short.refresh_from_db()
    assert short.needs_review and "wrong amount" in GatewayEvent.objects.get(deposit=short).outcome


def test_a_closed_deposit_has_nothing_to_ask_in_the_staff_members_language(as_russian, open_deposit):
    Deposit.objects.filter(pk=open_deposit.pk).update(status="expired")
    response = as_russian.post(
        reverse("admin:billing_deposit_changelist"),
        {"action": "ask_gateway", "_selected_action": [open_deposit.pk]},
        follow=True,
    )
    with translation.override("ru"):
        outcome = gettext("nothing to ask (closed, or no lookup).")
        assert messages_of(response) == [
            gettext("Deposit %(id)s: %(outcome)s") % {"id": open_deposit.pk, "outcome": outcome}
        ]
    assert outcome != "nothing to ask (closed, or no lookup)."


# --- The service page's periods (plural forms) ---------------------------------------------------

PERIODS_RU = {
    "Orders placed in the last %(days)s day": [
        "Заказы за последний %(days)s день",
        "Заказы за последние %(days)s дня",
        "Заказы за последние %(days)s дней",
        "Заказы за последние %(days)s дня",
    ],
    "%(period)s day": ["%(period)s день", "%(period)s дня", "%(period)s дней", "%(period)s дня"],
}


def test_the_service_pages_periods_have_plural_forms(as_russian, make_service):
    service = make_service("Default")
    url = reverse("admin:catalog_service_change", args=[service.pk])
    with translations_added("ru", PERIODS_RU):
        body = as_russian.get(url, {"days": 30}).content.decode()
        with translation.override("ru"):
            heading = ngettext(
                "Orders placed in the last %(days)s day", "Orders placed in the last %(days)s days", 30
            ) % {"days": 30}
            buttons = [ngettext("%(period)s day", "%(period)s days", n) % {"period": n} for n in (7, 30, 90)]
    assert heading == "Заказы за последние 30 дней" and heading in body
    section = re.search(r'<div class="bo-actionbar">.*?</div>', body[body.index('id="bo-fulfilment"') :], re.S).group(0)
    assert [text.strip() for text in re.findall(r'class="bo-btn"[^>]*>([^<]*)<', section)] == buttons


def test_the_service_page_in_english_says_days(as_admin, make_service):
    service = make_service("Default")
    body = as_admin.get(reverse("admin:catalog_service_change", args=[service.pk]), {"days": 7}).content.decode()
    assert "Orders placed in the last 7 days" in body
    assert '<b class="bo-btn" aria-current="true">7 days</b>' in body and ">90 days</a>" in body


# --- A provider's URL refused by the guard (upstream.urlguard) -----------------------------------

GUARD_RU = "%(host)s is a private or reserved address, which is not allowed."


def test_testing_a_provider_at_a_private_address_is_refused_in_the_staff_members_language(
    as_russian, provider, settings
):
    settings.UPSTREAM_ALLOW_PRIVATE = False
    Provider.objects.filter(pk=provider.pk).update(api_url="http://10.1.2.3/api/v2")
    provider.refresh_from_db()
    english = "10.1.2.3 is a private or reserved address, which is not allowed."
    translated = ru(GUARD_RU) % {"host": "10.1.2.3"}
    assert translated != english
    # The client's failure (logged, stored as the provider's last error) says it in English.
    with pytest.raises(Exception) as caught, translation.override("ru"):
        provider_client(provider).balance()
    assert english in str(caught.value)
    # The backoffice's button and the provider list's action say it in the reader's language.
    button = as_russian.post(reverse("admin:bo_provider_action", args=[provider.pk, "test"]), follow=True)
    assert messages_of(button) == [f"sim: {translated}"]
    action = as_russian.post(
        reverse("admin:upstream_provider_changelist"),
        {"action": "test_connection", "_selected_action": [provider.pk]},
        follow=True,
    )
    assert messages_of(action) == [f"sim: {translated}"]


def test_the_provider_form_refuses_a_private_address_in_the_staff_members_language(as_russian, settings):
    settings.UPSTREAM_ALLOW_PRIVATE = False
    response = as_russian.post(
        reverse("admin:upstream_provider_add"),
        {
            "name": "internal",
            "api_url": "http://10.1.2.3/api/v2",
            "api_key": "k" * 20,
            "currency": "USD",
            "exchange_rate": "1",
            "markup_percent": "0",
            "connect_timeout": "5",
            "read_timeout": "10",
            "max_concurrency": "4",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["api_url"]
    assert errors == [ru(GUARD_RU) % {"host": "10.1.2.3"}]


# --- Right to left in the templates --------------------------------------------------------------


def test_templates_keep_their_layout_in_both_directions(as_admin, customer, make_service, provider):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    service = make_service("Default")
    order = order_place(user=customer, service_id=service.pk, data={"link": "https://e.com/3", "quantity": service.min})
    page = as_admin.get(reverse("admin:orders_order_change", args=[order.order.pk])).content.decode()
    timeline = re.search(r'<ul class="bo-timeline">.*?</ul>', page, re.S).group(0)
    items = re.findall(r'<li class="k-[^"]*">.*?</li>', timeline, re.S)
    # An event's text (stored, in English or the provider's words) takes its own direction.
    assert items and all('<span dir="auto">' in item for item in items)
    # The physical margins that stayed on the left in Arabic.
    for name, args in (("admin:bo_reports", []), ("admin:bo_import", [provider.pk])):
        body = as_admin.get(reverse(name, args=args)).content.decode()
        assert not re.search(r"(margin|padding)-(left|right)", body), name
        assert "margin-inline-start:auto" in body, name
    # The home page's "Every" reads as a number, whole, in either direction.
    daily = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.DAYS)
    PeriodicTask.objects.create(name="sweep", task="billing.tasks.sweep", interval=daily)
    home = as_admin.get(reverse("admin:index")).content.decode()
    assert '<td class="bo-num">1 day, 0:00:00</td>' in home
