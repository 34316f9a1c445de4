"""Buying a child panel, building it, renewing it, warning, suspending it unpaid and restoring it.

The clock is moved by passing `now` to the services, period by period: the renewal code reads
the time nowhere else. Builds copy the template schema for real (a few seconds each); the
schemas they make are dropped after each test.
"""

import datetime
import threading
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.contrib.auth.hashers import make_password
from django.db import connection, connections
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists

from accounts.ledger import ledger_credit, ledger_drift
from accounts.models import LedgerEntry, User
from childpanels.billing import (
    BuyError,
    NotEnoughFunds,
    domain_clean,
    panel_build,
    panel_buy,
    panel_pay,
    period_key,
    renewals_run,
)
from notifications.models import Event
from tenants.models import ChildPanelPlan, Domain, Panel, PanelStatus, SuspendedReason

PRICE = Decimal("25")
T0 = datetime.datetime(2026, 1, 15, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def plan(db, settings):
    settings.CHILD_PANEL_DOMAIN = "panels.example.net"
    plan = ChildPanelPlan.current()
    plan.selling = True
    plan.monthly_price = PRICE
    plan.max_customers, plan.max_services, plan.max_staff, plan.warn_days = 50, 40, 2, 3
    plan.save()
    return plan


def owner(balance: str = "100", username: str = "owner") -> User:
    user = User.objects.create(username=username, email=f"{username}@example.com")
    if Decimal(balance) > 0:
        ledger_credit(user_id=user.pk, amount=Decimal(balance), memo="test funds")
    return user


def buy(user, domain="acme", **kwargs):
    values = {
        "user_id": user.pk,
        "name": "Acme",
        "domain": domain,
        "currency": "USD",
        "staff_username": "boss",
        "staff_email": "boss@example.com",
        "staff_password_hash": make_password("Boss-Secret-4821"),
        "now": T0,
        **kwargs,
    }
    return panel_buy(**values)


def active_panel(user, *, paid_until=T0, schema="p_renew_test", price=PRICE) -> Panel:
    """A panel row that is active and paid until `paid_until` (no schema: renewal needs none)."""
    panel = Panel(
        schema_name=schema,
        name="Renew",
        status=PanelStatus.ACTIVE,
        owner_id=user.pk,
        monthly_price=price,
        paid_until=paid_until,
    )
    panel.auto_create_schema = False
    panel.save()
    Domain.objects.create(domain=f"{schema.replace('_', '-')}.example.net", tenant=panel, is_primary=True)
    return panel


def fees(user) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(user=user, idempotency_key__startswith="childpanel:").order_by("pk"))


@pytest.fixture
def drop_schemas():
    made: list[str] = []
    yield made
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        for schema in made:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# --- buying ----------------------------------------------------------------------------------


def test_buying_charges_the_first_month_once_and_leaves_a_pending_panel(plan, django_capture_on_commit_callbacks):
    user = owner("100")
    with django_capture_on_commit_callbacks() as enqueued:
        panel = buy(user)
    # the build, after the commit (beside the registry's cache invalidation)
    assert [hook.__name__ for hook in enqueued].count("<lambda>") == 1
    panel.refresh_from_db()
    assert panel.status == PanelStatus.PENDING and panel.owner_id == user.pk
    assert panel.schema_name == "p_acme_panels_example_net" and not schema_exists(panel.schema_name)
    assert Domain.objects.get(tenant=panel).domain == "acme.panels.example.net"
    assert panel.paid_until == T0 + relativedelta(months=1) == datetime.datetime(2026, 2, 15, 12, tzinfo=datetime.UTC)
    assert (panel.monthly_price, panel.max_customers, panel.max_services, panel.max_staff) == (PRICE, 50, 40, 2)
    assert panel.staff_password_hash.startswith("pbkdf2_") and "Boss-Secret" not in panel.staff_password_hash
    [fee] = fees(user)
    assert fee.amount == -PRICE and fee.kind == "charge" and fee.order_id is None
    assert fee.idempotency_key == period_key(panel.pk, T0) == f"childpanel:{panel.pk}:period:2026-01-15T12:00:00+00:00"
    assert fee.memo == "Child panel acme.panels.example.net: 2026-01-15 to 2026-02-15"
    user.refresh_from_db()
    assert user.balance == Decimal("75")
    assert ledger_drift() == []


def test_a_balance_that_cannot_pay_writes_nothing(plan):
    user = owner("24.99999")
    with pytest.raises(NotEnoughFunds):
        buy(user)
    assert (
        not Panel.objects.filter(owner_id=user.pk).exists()
        and not Domain.objects.filter(domain__startswith="acme").exists()
    )
    assert fees(user) == []
    user.refresh_from_db()
    assert user.balance == Decimal("24.99999") and ledger_drift() == []


def test_nothing_is_sold_while_the_plan_is_not_selling(plan):
    plan.selling = False
    plan.save()
    user = owner("100")
    with pytest.raises(BuyError):
        buy(user)
    assert not Panel.objects.filter(owner_id=user.pk).exists() and fees(user) == []


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "127.0.0.1",
        "[::1]",
        "10.0.0.1",
        "bad_domain.com",
        "-acme.com",
        "acme-.com",
        "a" * 64 + ".com",
        "example.123",
        "panels.example.net",  # CHILD_PANEL_DOMAIN itself
        "www",  # a reserved subdomain of it
        "api.panels.example.net",
        "acme..com",
        "ac me.com",
    ],
)
def test_bad_or_taken_domains_are_refused(plan, typed):
    with pytest.raises(BuyError):
        domain_clean(typed)


def test_the_parents_own_host_and_a_served_domain_are_refused(plan, settings):
    settings.PANEL_URL = "https://smm.example.org"
    settings.ALLOWED_HOSTS = ["smm.example.org", ".example.org"]
    for taken in ("smm.example.org", "SMM.Example.org.", "example.org", "https://smm.example.org/"):
        with pytest.raises(BuyError):
            domain_clean(taken)
    buy(owner("100"))
    with pytest.raises(BuyError, match="already serves"):
        domain_clean("ACME.panels.example.net")


def test_domains_are_written_lower_case_and_subdomains_completed(plan):
    assert domain_clean("Acme") == "acme.panels.example.net"
    assert domain_clean(" Shop.Example.COM. ") == "shop.example.com"
    assert domain_clean("https://panel.example.com/") == "panel.example.com"
    assert domain_clean("bücher.example") == "xn--bcher-kva.example"


def test_without_a_panel_domain_a_single_label_is_refused(plan, settings):
    settings.CHILD_PANEL_DOMAIN = ""
    with pytest.raises(BuyError):
        domain_clean("acme")


def test_a_customer_may_own_a_bounded_number_of_panels(plan, monkeypatch):
    monkeypatch.setattr("childpanels.billing.MAX_PANELS_PER_CUSTOMER", 2)
    user = owner("1000")
    buy(user, domain="one")
    buy(user, domain="two")
    with pytest.raises(BuyError):
        buy(user, domain="three")
    assert len(fees(user)) == 2


@pytest.mark.django_db(transaction=True)
def test_a_double_submit_buys_once(plan, monkeypatch, drop_schemas):
    # The build would copy a schema in each winner's commit hook: here only the purchase races.
    monkeypatch.setattr("childpanels.billing._enqueue_build", lambda panel_id: None)
    user = owner("100")
    barrier = threading.Barrier(4)
    outcomes = []

    def submit():
        try:
            barrier.wait()
            outcomes.append(buy(user).pk)
        except BuyError as exc:
            outcomes.append(exc.message)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(outcome, int) for outcome in outcomes) == 1
    assert Panel.objects.filter(owner_id=user.pk).count() == 1 and len(fees(user)) == 1
    user.refresh_from_db()
    assert user.balance == Decimal("75") and ledger_drift() == []


# --- building --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_bought_panel_is_built_after_the_commit_with_its_staff_user(plan, drop_schemas):
    user = owner("100")
    panel = buy(user)  # CELERY_TASK_ALWAYS_EAGER: the build runs in the commit hook
    drop_schemas.append(panel.schema_name)
    panel.refresh_from_db()
    assert panel.status == PanelStatus.ACTIVE and panel.build_error == ""
    assert panel.staff_password_hash == ""  # the hash is gone once the user exists
    assert schema_exists(panel.schema_name)
    with schema_context(panel.schema_name):
        staff = User.objects.get(username="boss")
        assert staff.is_staff and staff.is_superuser and staff.check_password("Boss-Secret-4821")
        assert not User.objects.filter(username="owner").exists()  # the parent's customers stay there
    assert Event.objects.filter(kind="childpanel.ready", key=f"childpanel:{panel.pk}:ready", user=user).exists()
    # Built again (a redelivered task): nothing changes, nothing is charged.
    assert panel_build(panel_id=panel.pk) == "done"
    assert len(fees(user)) == 1 and ledger_drift() == []


@pytest.mark.django_db(transaction=True)
def test_two_builds_at_once_build_once(plan, monkeypatch, drop_schemas):
    monkeypatch.setattr("childpanels.billing._enqueue_build", lambda panel_id: None)
    user = owner("100")
    panel = buy(user, domain="twice")
    drop_schemas.append(panel.schema_name)
    barrier = threading.Barrier(3)
    outcomes = []

    def build():
        try:
            barrier.wait()
            outcomes.append(panel_build(panel_id=panel.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("built") == 1 and set(outcomes) <= {"built", "busy", "done"}
    panel.refresh_from_db()
    assert panel.status == PanelStatus.ACTIVE
    with schema_context(panel.schema_name):
        assert User.objects.filter(username="boss").count() == 1
    assert Event.objects.filter(kind="childpanel.ready").count() == 1
    assert len(fees(user)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_build_is_retried_and_never_charges_again(plan, monkeypatch, drop_schemas):
    monkeypatch.setattr("childpanels.billing._enqueue_build", lambda panel_id: None)
    user = owner("100")
    panel = buy(user, domain="broken")
    drop_schemas.append(panel.schema_name)
    # A schema whose name differs only in case is in the way: copying the template is refused.
    in_the_way = panel.schema_name.upper()
    drop_schemas.append(in_the_way)
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{in_the_way}"')
    with pytest.raises(Exception):
        panel_build(panel_id=panel.pk)
    panel.refresh_from_db()
    assert panel.status == PanelStatus.PENDING and panel.build_error
    assert not schema_exists(panel.schema_name)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA "{in_the_way}" CASCADE')
    # The renewal run finds the stuck build and enqueues it again; here it runs in place.
    built = []
    monkeypatch.setattr(
        "childpanels.billing._enqueue_build", lambda panel_id: built.append(panel_build(panel_id=panel_id))
    )
    run = renewals_run(now=timezone.now() + datetime.timedelta(minutes=10))
    assert run.builds == 1 and built == ["built"]
    panel.refresh_from_db()
    assert panel.status == PanelStatus.ACTIVE and panel.build_error == ""
    assert len(fees(user)) == 1 and ledger_drift() == []


# --- renewing --------------------------------------------------------------------------------


def test_the_owner_is_warned_once_three_days_before(plan):
    user = owner("100")
    panel = active_panel(user, paid_until=T0)
    assert renewals_run(now=T0 - datetime.timedelta(days=3, hours=1)).warned == 0
    assert renewals_run(now=T0 - datetime.timedelta(days=3)).warned == 1
    assert renewals_run(now=T0 - datetime.timedelta(days=2)).warned == 0
    assert renewals_run(now=T0 - datetime.timedelta(hours=1)).warned == 0
    [event] = Event.objects.filter(kind="childpanel.renewal_due")
    assert event.user_id == user.pk and event.data["domain"] == "p-renew-test.example.net"
    assert event.data["balance_short"] is False
    panel.refresh_from_db()
    assert panel.warned_for == T0 and fees(user) == []


def test_the_next_month_is_charged_at_paid_until_once(plan):
    user = owner("100")
    panel = active_panel(user, paid_until=T0)
    assert renewals_run(now=T0 - datetime.timedelta(seconds=1)).renewed == 0
    assert renewals_run(now=T0).renewed == 1
    assert renewals_run(now=T0 + datetime.timedelta(hours=1)).renewed == 0  # the next hourly run
    panel.refresh_from_db()
    assert panel.status == PanelStatus.ACTIVE
    assert panel.paid_until == datetime.datetime(2026, 2, 15, 12, tzinfo=datetime.UTC)
    [fee] = fees(user)
    assert fee.amount == -PRICE and fee.idempotency_key == period_key(panel.pk, T0)
    assert Event.objects.filter(kind="childpanel.renewed", user=user).count() == 1
    # A month later: warned for the new period, then charged again.
    assert renewals_run(now=datetime.datetime(2026, 2, 12, 13, tzinfo=datetime.UTC)).warned == 1
    assert renewals_run(now=datetime.datetime(2026, 2, 15, 12, 30, tzinfo=datetime.UTC)).renewed == 1
    panel.refresh_from_db()
    assert panel.paid_until == datetime.datetime(2026, 3, 15, 12, tzinfo=datetime.UTC)
    user.refresh_from_db()
    assert user.balance == Decimal("50") and len(fees(user)) == 2 and ledger_drift() == []


def test_months_end_on_calendar_days(plan):
    user = owner("100")
    panel = active_panel(user, paid_until=datetime.datetime(2026, 1, 31, tzinfo=datetime.UTC))
    renewals_run(now=datetime.datetime(2026, 1, 31, 0, 5, tzinfo=datetime.UTC))
    panel.refresh_from_db()
    assert panel.paid_until == datetime.datetime(2026, 2, 28, tzinfo=datetime.UTC)


def test_an_unpaid_panel_is_suspended_kept_and_restored_after_a_deposit(plan):
    user = owner("30")
    panel = active_panel(user, paid_until=T0)
    renewals_run(now=T0)  # 30 -> 5
    second = T0 + relativedelta(months=1)
    run = renewals_run(now=second)
    assert run.suspended == 1 and run.renewed == 0
    panel.refresh_from_db()
    assert panel.status == PanelStatus.SUSPENDED and panel.suspended_reason == SuspendedReason.UNPAID
    assert panel.suspended_at == second and panel.paid_until == second  # the unpaid month is not charged
    assert Event.objects.filter(kind="childpanel.suspended", user=user).count() == 1
    # Every run tries again; still short: nothing changes.
    assert renewals_run(now=second + datetime.timedelta(hours=1)).restored == 0
    assert Event.objects.filter(kind="childpanel.suspended").count() == 1
    # The owner pays in; the next run restores it with a fresh month from then.
    ledger_credit(user_id=user.pk, amount=Decimal("40"), memo="deposit")
    later = second + datetime.timedelta(days=2)
    assert renewals_run(now=later).restored == 1
    panel.refresh_from_db()
    assert panel.status == PanelStatus.ACTIVE and panel.suspended_reason == "" and panel.suspended_at is None
    assert panel.paid_until == later + relativedelta(months=1)
    assert [fee.idempotency_key for fee in fees(user)] == [period_key(panel.pk, T0), period_key(panel.pk, later)]
    user.refresh_from_db()
    assert user.balance == Decimal("20") and ledger_drift() == []
    assert Event.objects.filter(kind="childpanel.restored", user=user).count() == 1


def test_a_deposit_restores_the_panel_right_away(plan, django_capture_on_commit_callbacks):
    from django.db import transaction

    from panel.events import DomainEvent, emit

    user = owner("0")
    panel = active_panel(user, paid_until=T0)
    renewals_run(now=T0)
    panel.refresh_from_db()
    assert panel.status == PanelStatus.SUSPENDED
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        entry = ledger_credit(user_id=user.pk, amount=Decimal("25"), memo="deposit").entry
        emit(DomainEvent(kind="deposit.credited", key=f"ledger-entry:{entry.pk}", user_id=user.pk, data={}))
    panel.refresh_from_db()
    assert panel.status == PanelStatus.ACTIVE
    user.refresh_from_db()
    assert user.balance == Decimal("0") and ledger_drift() == []


def test_pay_now_is_the_owners_only_and_staff_suspensions_stay(plan):
    user = owner("10")
    stranger = owner("100", username="stranger")
    panel = active_panel(user, paid_until=T0)
    renewals_run(now=T0)
    assert panel_pay(panel_id=panel.pk, user_id=stranger.pk) == "not suspended"
    assert panel_pay(panel_id=panel.pk, user_id=user.pk) == "short"
    ledger_credit(user_id=user.pk, amount=Decimal("20"), memo="deposit")
    assert panel_pay(panel_id=panel.pk, user_id=user.pk) == "restored"
    assert panel_pay(panel_id=panel.pk, user_id=user.pk) == "not suspended"
    assert len(fees(user)) == 1 and fees(stranger) == []
    # Staff suspended it: paying never brings it back.
    Panel.objects.filter(pk=panel.pk).update(status=PanelStatus.SUSPENDED, suspended_reason=SuspendedReason.STAFF)
    ledger_credit(user_id=user.pk, amount=Decimal("100"), memo="deposit")
    assert panel_pay(panel_id=panel.pk, user_id=user.pk) == "not suspended"
    assert renewals_run(now=T0 + relativedelta(months=3)).restored == 0
    panel.refresh_from_db()
    assert panel.status == PanelStatus.SUSPENDED and len(fees(user)) == 1


def test_a_stopped_beat_catches_up_month_by_month(plan):
    user = owner("60")
    panel = active_panel(user, paid_until=T0)
    run = renewals_run(now=T0 + relativedelta(months=2, days=1))
    assert run.renewed == 2 and run.suspended == 1  # two months paid, the third could not be
    panel.refresh_from_db()
    assert panel.status == PanelStatus.SUSPENDED and panel.paid_until == T0 + relativedelta(months=2)
    assert len(fees(user)) == 2 and ledger_drift() == []


@pytest.mark.django_db(transaction=True)
def test_overlapping_runs_charge_a_period_once(plan):
    user = owner("100")
    panel = active_panel(user, paid_until=T0)
    barrier = threading.Barrier(4)

    def run():
        try:
            barrier.wait()
            renewals_run(now=T0 + datetime.timedelta(minutes=1))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    panel.refresh_from_db()
    assert panel.paid_until == T0 + relativedelta(months=1)
    assert len(fees(user)) == 1 and ledger_drift() == []
    assert Event.objects.filter(kind="childpanel.renewed").count() == 1


def test_the_run_does_nothing_inside_a_child(plan, children, in_schema):
    user = owner("100")
    active_panel(user, paid_until=T0)
    with in_schema("child_a"):
        assert renewals_run(now=T0) is None
    assert fees(user) == []


def test_a_panel_suspended_unpaid_shows_its_notice_and_tells_the_owner_where_to_pay(plan, children, settings):
    from django.test import Client

    panel = children["child_a"]
    panel.status, panel.suspended_reason = PanelStatus.SUSPENDED, SuspendedReason.UNPAID
    panel.save()
    page = Client(HTTP_HOST="a.panels.test").get("/", HTTP_ACCEPT_LANGUAGE="en")
    text = page.content.decode()
    assert page.status_code == 503 and page["Retry-After"] == "3600"
    assert "This panel is suspended" in text and "Pay now" in text and settings.PANEL_URL in text
    api = Client(HTTP_HOST="a.panels.test").post("/api/v2", {"key": "x", "action": "balance"})
    assert api.status_code == 503 and api.json() == {"error": "This panel is suspended."}
    panel.suspended_reason = SuspendedReason.STAFF
    panel.save()
    assert "Pay now" not in Client(HTTP_HOST="a.panels.test").get("/").content.decode()
