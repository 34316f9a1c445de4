from decimal import Decimal

import pytest

from accounts.ledger import ledger_credit, ledger_drift
from accounts.models import LedgerEntry, User
from catalog.models import PricingSettings
from orders.errors import OrderError
from orders.models import ForwardState, Order, OrderEvent, Status
from orders.placement import order_place
from testing.concurrency import run_together

D = Decimal


def place(user, service, **data):
    return order_place(user=user, service_id=service.pk, data=data)


def test_place_charges_the_balance_and_records_the_order(customer, make_service):
    service = make_service("Default", dripfeed=False)
    placed = place(customer, service, link="https://instagram.com/p/1", quantity=service.min * 2)
    order = placed.order
    assert placed.created
    assert order.forward_state == ForwardState.QUEUED and order.status == Status.PENDING
    assert order.charge == (service.rate * service.min * 2 / 1000).quantize(D("0.00001"))
    assert order.cost_expected == (service.upstream.rate * service.min * 2 / 1000).quantize(D("0.00001"))
    customer.refresh_from_db()
    assert customer.balance == D("1000") - order.charge
    entry = LedgerEntry.objects.get(order_id=order.pk)
    assert (entry.kind, entry.amount) == ("charge", -order.charge)
    assert order.events.get().kind == "placed"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"link": "https://x.com/a", "quantity": 1}, "Quantity less than minimal"),
        ({"link": "https://x.com/a", "quantity": 10**9}, "Quantity more than maximum"),
        ({"link": "https://x.com/a", "quantity": "ten"}, "Incorrect quantity"),
        ({"link": "", "quantity": 100}, "Bad link"),
        ({"link": "ftp://x.com/a", "quantity": 100}, "Bad link"),
        ({"link": "has space", "quantity": 100}, "Bad link"),
        ({"link": "https://x.com/a", "quantity": 100, "runs": 2, "interval": 5}, "does not support drip-feed"),
    ],
)
def test_validation_errors_use_the_protocol_wording(customer, make_service, data, message):
    service = make_service("Default", dripfeed=False)
    with pytest.raises(OrderError, match=message):
        place(customer, service, **data)
    assert Order.objects.count() == 0
    assert LedgerEntry.objects.filter(kind="charge").count() == 0


def test_min_and_max_messages_name_the_limits(customer, make_service):
    service = make_service("Default", dripfeed=False)
    with pytest.raises(OrderError) as low:
        place(customer, service, link="https://x.com/a", quantity=service.min - 1)
    assert str(low.value) == f"Quantity less than minimal {service.min}"
    with pytest.raises(OrderError) as high:
        place(customer, service, link="https://x.com/a", quantity=service.max + 1)
    assert str(high.value) == f"Quantity more than maximum {service.max}"


def test_unknown_disabled_or_garbage_service_is_incorrect_service_id(customer, make_service):
    service = make_service("Default")
    for service_id in (999999, "abc", None):
        with pytest.raises(OrderError, match=r"^Incorrect service ID$"):
            order_place(user=customer, service_id=service_id, data={"link": "https://x.com", "quantity": 100})
    service.enabled = False
    service.save()
    with pytest.raises(OrderError, match=r"^Incorrect service ID$"):
        place(customer, service, link="https://x.com/a", quantity=service.min)


def test_dripfeed_charges_every_run_and_needs_both_fields(customer, make_service):
    service = make_service("Default", dripfeed=True)
    with pytest.raises(OrderError, match=r"^Interval is required$"):
        place(customer, service, link="https://x.com/a", quantity=service.min, runs=3)
    with pytest.raises(OrderError, match=r"^Runs is required$"):
        place(customer, service, link="https://x.com/a", quantity=service.min, interval=10)
    order = place(customer, service, link="https://x.com/a", quantity=service.min, runs=3, interval=10).order
    assert order.units == service.min * 3
    assert order.charge == (service.rate * service.min * 3 / 1000).quantize(D("0.00001"), rounding="ROUND_UP")


def test_not_enough_funds(make_service, db):
    poor = User.objects.create(username="poor")
    ledger_credit(user_id=poor.pk, amount=D("0.00001"))
    service = make_service("Default")
    with pytest.raises(OrderError, match=r"^Not enough funds on balance$"):
        place(poor, service, link="https://x.com/a", quantity=service.max)
    assert Order.objects.count() == 0
    poor.refresh_from_db()
    assert poor.balance == D("0.00001")


def test_a_refused_charge_leaves_no_order_event_or_entry(make_service, db):
    poor = User.objects.create(username="poor")
    ledger_credit(user_id=poor.pk, amount=D("1"))
    service = make_service("Default", dripfeed=False)
    with pytest.raises(OrderError, match=r"^Not enough funds on balance$"):
        order_place(
            user=poor,
            service_id=service.pk,
            data={"link": "https://x.com/a", "quantity": service.max},
            idempotency_key="k",
        )
    assert not Order.objects.exists() and not OrderEvent.objects.exists()
    assert LedgerEntry.objects.filter(user=poor).count() == 1
    # The key was not used up: the same request succeeds once it can be paid.
    ledger_credit(user_id=poor.pk, amount=D("100000"))
    placed = order_place(
        user=poor, service_id=service.pk, data={"link": "https://x.com/a", "quantity": service.max}, idempotency_key="k"
    )
    assert placed.created
    assert ledger_drift() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_for_one_link_place_only_one(make_service, provider):
    user = User.objects.create(username="twin")
    ledger_credit(user_id=user.pk, amount=D("1000"))
    service = make_service("Default", dripfeed=False)

    def go(_: int) -> str:
        try:
            order_place(user=user, service_id=service.pk, data={"link": "https://x.com/one", "quantity": service.min})
            return "ok"
        except OrderError as exc:
            return exc.message

    results = run_together(8, go)
    assert results.count("ok") == 1 and len(results) == 8
    assert Order.objects.count() == 1
    assert ledger_drift() == []


def test_second_active_order_for_the_same_link_is_refused_unless_staff_allow_it(customer, make_service):
    service = make_service("Default", dripfeed=False)
    place(customer, service, link="https://x.com/same", quantity=service.min)
    with pytest.raises(OrderError, match="You have active order with this link"):
        place(customer, service, link="https://x.com/same", quantity=service.min)
    settings_row = PricingSettings.load()
    settings_row.refuse_duplicate_active_link = False
    settings_row.save()
    assert place(customer, service, link="https://x.com/same", quantity=service.min).created


@pytest.mark.parametrize(
    "type_, data, quantity",
    [
        ("Package", {"link": "https://x.com/p"}, 1),
        ("Custom Comments", {"link": "https://x.com/p", "comments": "nice\n\ngreat\r\nwow\n"}, 3),
        ("Mentions Custom List", {"link": "https://x.com/p", "usernames": "a\nb"}, 2),
        ("Mentions", {"link": "https://x.com/p", "quantity": "Q", "usernames": "a,b"}, None),
        ("Mentions Hashtag", {"link": "https://x.com/p", "quantity": "Q", "hashtag": "#x"}, None),
        ("Mentions User Followers", {"link": "https://x.com/p", "quantity": "Q", "username": "bob"}, None),
        ("Mentions Media Likers", {"link": "https://x.com/p", "quantity": "Q", "media": "https://x.com/m"}, None),
        ("Comment Likes", {"link": "https://x.com/p", "quantity": "Q", "username": "bob"}, None),
        ("Poll", {"link": "https://x.com/p", "quantity": "Q", "answer_number": "2"}, None),
        ("Invites from Groups", {"link": "https://x.com/p", "quantity": "Q", "groups": "g1\ng2"}, None),
        ("SEO", {"link": "https://x.com/p", "quantity": "Q", "keywords": "k1\nk2"}, None),
    ],
)
def test_every_type_is_placed_with_its_own_parameters(customer, make_service, type_, data, quantity):
    service = make_service(type_)
    if data.get("quantity") == "Q":
        data = {**data, "quantity": service.min}
    if type_ in {"Custom Comments", "Mentions Custom List"} and service.min > (quantity or 0):
        lines = "\n".join(f"line {i}" for i in range(service.min))
        data = {**data, ("comments" if type_ == "Custom Comments" else "usernames"): lines}
        quantity = service.min
    order = place(customer, service, **data).order
    assert order.quantity == (quantity or service.min)
    if type_ == "Package":
        assert order.charge == service.rate


def test_type_specific_fields_are_required(customer, make_service):
    cases = [
        ("Custom Comments", {"link": "https://x.com/p"}, "Comments is required"),
        ("Mentions Hashtag", {"link": "https://x.com/p", "quantity": None}, "Hashtag is required"),
        ("Poll", {"link": "https://x.com/p", "quantity": None}, "Answer number is required"),
        ("Subscriptions", {"username": "bob"}, "Min is required"),
    ]
    for type_, data, message in cases:
        service = make_service(type_)
        if "quantity" in data:
            data = {**data, "quantity": service.min}
        with pytest.raises(OrderError, match=message):
            place(customer, service, **data)


def test_subscription_and_web_traffic(customer, make_service):
    sub = make_service("Subscriptions")
    order = place(customer, sub, username="bob", min=sub.min, max=sub.min, posts=3, delay=30).order
    assert order.params["delay"] == 30 and order.units == sub.min * 3
    with pytest.raises(OrderError, match="Incorrect delay"):
        place(customer, sub, username="bob2", min=sub.min, max=sub.min, posts=3, delay=7)
    web = make_service("Web Traffic")
    with pytest.raises(OrderError, match="Google keyword is required"):
        place(customer, web, link="https://x.com", quantity=web.min, country="US", device=1, type_of_traffic=1)
    assert place(
        customer, web, link="https://x.com", quantity=web.min, country="US", device=5, type_of_traffic=3
    ).created


def test_idempotency_key_returns_the_same_order(customer, make_service):
    service = make_service("Default", dripfeed=False)
    first = order_place(
        user=customer,
        service_id=service.pk,
        data={"link": "https://x.com/a", "quantity": service.min},
        idempotency_key="k1",
    )
    again = order_place(
        user=customer,
        service_id=service.pk,
        data={"link": "https://x.com/a", "quantity": service.min},
        idempotency_key="k1",
    )
    assert first.created and not again.created and first.order.pk == again.order.pk
    assert LedgerEntry.objects.filter(kind="charge").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("refuse_duplicates", [True, False], ids=["row-locked", "index-only"])
def test_concurrent_placements_with_one_key_place_one_order(make_service, provider, refuse_duplicates):
    # With the duplicate-link rule the customer's row lock serialises the placements; without
    # it only the UNIQUE (user, idempotency key) index does.
    PricingSettings.objects.update_or_create(pk=1, defaults={"refuse_duplicate_active_link": refuse_duplicates})
    user = User.objects.create(username="racer")
    ledger_credit(user_id=user.pk, amount=D("1000"))
    service = make_service("Default", dripfeed=False)
    ids = run_together(
        10,
        lambda _: (
            order_place(
                user=user,
                service_id=service.pk,
                data={"link": "https://x.com/race", "quantity": service.min},
                idempotency_key="same-key",
            ).order.pk
        ),
    )
    assert len(ids) == 10 and len(set(ids)) == 1
    assert Order.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="charge").count() == 1
    assert ledger_drift() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_placements_never_overspend(make_service, provider):
    user = User.objects.create(username="spender")
    service = make_service("Package")
    ledger_credit(user_id=user.pk, amount=service.rate * 5)

    def go(i: int) -> str:
        try:
            order_place(user=user, service_id=service.pk, data={"link": f"https://x.com/{i}"})
            return "ok"
        except OrderError as exc:
            return str(exc)

    results = run_together(12, go)
    assert results.count("ok") == 5
    assert results.count("Not enough funds on balance") == 7
    user.refresh_from_db()
    assert user.balance == 0
    assert ledger_drift() == []
