"""A database migrated from before billing and support existed keeps every row: the dashboard's
money and ticket tables, the backoffice's audit log and ticket assignments, with their foreign
keys, their content types and the staff roles' permissions."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import AuditLog, User
from billing.models import Affiliate, Commission, Deposit, DepositRequest, GatewayEvent, PaymentMethod
from support.models import Ticket, TicketAssignment, TicketMessage

# The heads before the move: the dashboard and the backoffice owned the models; billing and
# support did not exist.
BEFORE = [
    ("dashboard", "0003_stripe_method"),
    ("backoffice", "0001_initial"),
    ("accounts", "0001_initial"),
    ("billing", None),
    ("support", None),
]


def migrate(targets):
    MigrationExecutor(connection).migrate(targets)
    nodes = [target for target in targets if target[1] is not None]
    return MigrationExecutor(connection).loader.project_state(nodes).apps


@pytest.fixture
def old_apps():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        yield migrate(BEFORE)
    finally:
        # Back to the latest migrations whatever happened, so the tests after this one run on
        # the schema they expect.
        migrate(latest)
        ContentType.objects.clear_cache()


@pytest.mark.django_db(transaction=True)
def test_migrating_from_the_dashboard_models_keeps_every_row(old_apps):
    OldUser = old_apps.get_model("accounts", "User")
    customer = OldUser.objects.create(username="buyer")
    referrer = OldUser.objects.create(username="referrer")
    staff = OldUser.objects.create(username="staff", is_staff=True)

    def old(model):
        return old_apps.get_model("dashboard", model)

    method = old("PaymentMethod").objects.create(name="Bank", min_amount=Decimal("1"))
    deposit = old("DepositRequest").objects.create(
        user_id=customer.pk, method_id=method.pk, amount=Decimal("25"), status="approved", decided_by_id=staff.pk
    )
    payment = old("GatewayPayment").objects.create(
        user_id=customer.pk, amount=Decimal("10"), currency="USD", status="paid", external_id="cs_1"
    )
    event = old("GatewayEvent").objects.create(
        event_id="evt_1", type="checkout.session.completed", payload={"id": "evt_1"}, payment_id=payment.pk
    )
    old("Affiliate").objects.create(user_id=referrer.pk, code="REF1", commission_percent=Decimal("10"))
    affiliate = old("Affiliate").objects.create(user_id=customer.pk, code="BUY1", referred_by_id=referrer.pk)
    commission = old("Commission").objects.create(
        affiliate_id=referrer.pk, referred_id=customer.pk, deposit_id=deposit.pk, amount=Decimal("2.5")
    )
    ticket = old("Ticket").objects.create(user_id=customer.pk, subject="Where?", topic="payment", deposit_id=deposit.pk)
    message = old("TicketMessage").objects.create(ticket_id=ticket.pk, author_id=customer.pk, body="Hello")
    assignment = old_apps.get_model("backoffice", "TicketAssignment").objects.create(
        ticket_id=ticket.pk, assignee_id=staff.pk
    )
    audit = old_apps.get_model("backoffice", "AuditLog").objects.create(
        actor_id=staff.pk,
        action="deposit.approve",
        object_type="dashboard.depositrequest",
        object_id=str(deposit.pk),
        after={"status": "approved"},
    )
    OldContentType = old_apps.get_model("contenttypes", "ContentType")
    old_ticket_type = OldContentType.objects.get_or_create(app_label="dashboard", model="ticket")[0]

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()

    assert PaymentMethod.objects.get(pk=method.pk).name == "Bank"
    moved_deposit = DepositRequest.objects.get(pk=deposit.pk)
    assert (moved_deposit.user.username, moved_deposit.method_id, moved_deposit.actor.username) == (
        "buyer",
        method.pk,
        "staff",
    )
    assert moved_deposit.amount == Decimal("25") and moved_deposit.status == "approved"
    # A card payment became a Stripe deposit of the Stripe method, its session its transaction
    # (so its ledger key stripe:<session id> is the key a late event would use).
    moved_payment = Deposit.objects.get(pk=payment.pk)
    assert (moved_payment.user.username, moved_payment.external_id) == ("buyer", "cs_1")
    assert (moved_payment.gateway, moved_payment.method.kind, moved_payment.transaction_id) == (
        "stripe",
        "stripe",
        "cs_1",
    )
    assert (moved_payment.charge_amount, moved_payment.charge_currency, moved_payment.rate) == (10, "USD", 1)
    moved_event = GatewayEvent.objects.get(pk=event.pk)
    assert (moved_event.deposit, moved_event.gateway) == (moved_payment, "stripe")
    assert Affiliate.objects.get(pk=affiliate.pk).referred_by.username == "referrer"
    moved_commission = Commission.objects.get(pk=commission.pk)
    assert (moved_commission.affiliate.username, moved_commission.deposit) == ("referrer", moved_deposit)
    # Commissions of before payouts were credited to the balance then: none is owed again.
    assert moved_commission.credited_at_deposit and moved_commission.payout is None
    moved_ticket = Ticket.objects.get(pk=ticket.pk)
    assert (moved_ticket.user.username, moved_ticket.deposit) == ("buyer", moved_deposit)
    assert TicketMessage.objects.get(pk=message.pk).ticket == moved_ticket
    moved_assignment = TicketAssignment.objects.get(pk=assignment.pk)
    assert (moved_assignment.ticket, moved_assignment.assignee.username) == (moved_ticket, "staff")
    moved_audit = AuditLog.objects.get(pk=audit.pk)
    assert moved_audit.actor.username == "staff" and moved_audit.object_type == "billing.depositrequest"
    assert User.objects.get(username="buyer").tickets.get() == moved_ticket

    # The content types moved with their IDs (so permissions and admin history follow them).
    assert ContentType.objects.get(pk=old_ticket_type.pk).app_label == "support"
    assert not ContentType.objects.filter(app_label="dashboard").exists()
    assert ContentType.objects.get_for_model(AuditLog).app_label == "accounts"
    assert Permission.objects.filter(content_type__app_label="backoffice", codename="money_actions").exists()

    # New rows get new IDs after the old ones: the renamed tables keep their sequences.
    new_method = PaymentMethod.objects.create(name="Crypto")
    assert new_method.pk > method.pk
    assert DepositRequest.objects.create(user=moved_deposit.user, method=new_method, amount=1).pk > deposit.pk
