"""Every kind of event the panel notifies about: who it is for and on which channels it may go.

One table, so that the preferences page, the webhook documentation, the delivery engine and the
email templates agree on what exists. `email_default` is what a customer gets until they change
their preferences: money and support on, order traffic off (a reseller's orders are many).
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

CUSTOMER = "customer"
STAFF = "staff"


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    audience: str
    webhook: bool = False  # sent to the customer's webhook endpoint
    email: bool = False  # may be emailed to the customer (their preference)
    telegram: bool = False  # may be sent to the customer's linked Telegram (their preference)
    email_default: bool = False
    telegram_default: bool = False

    @property
    def webhook_only(self) -> bool:
        return self.webhook and not self.email and not self.telegram


KINDS = {
    kind.name: kind
    for kind in (
        Kind("order.status", _("Order status changed"), CUSTOMER, webhook=True),
        Kind(
            "order.final",
            _("Order completed, partial or canceled (with the refund)"),
            CUSTOMER,
            webhook=True,
            email=True,
            telegram=True,
        ),
        Kind("refill.status", _("Refill done or rejected"), CUSTOMER, webhook=True, email=True, telegram=True),
        Kind(
            "balance.low",
            _("Balance below my threshold"),
            CUSTOMER,
            webhook=True,
            email=True,
            telegram=True,
            email_default=True,
            telegram_default=True,
        ),
        Kind(
            "deposit.credited",
            _("Deposit credited"),
            CUSTOMER,
            email=True,
            telegram=True,
            email_default=True,
            telegram_default=True,
        ),
        Kind(
            "ticket.answered",
            _("Support ticket answered"),
            CUSTOMER,
            email=True,
            telegram=True,
            email_default=True,
            telegram_default=True,
        ),
        # Child panels the customer bought (childpanels): their state and their fee, always worth
        # telling (a panel that stops stops its owner's business).
        *(
            Kind(name, label, CUSTOMER, email=True, telegram=True, email_default=True, telegram_default=True)
            for name, label in (
                ("childpanel.ready", _("Child panel ready")),
                ("childpanel.renewal_due", _("Child panel renews soon")),
                ("childpanel.renewed", _("Child panel renewed")),
                ("childpanel.suspended", _("Child panel suspended (not paid)")),
                ("childpanel.restored", _("Child panel restored")),
                ("childpanel.funds_short", _("Child panel orders waiting for funds")),
            )
        ),
        Kind("catalog.update", _("Catalog changed (new service, price, disabled, back)"), CUSTOMER, webhook=True),
        Kind("catalog.digest", _("Catalog updates (a daily email digest)"), CUSTOMER, email=True),
        Kind("webhook.test", _("Test event"), CUSTOMER, webhook=True),
        # Staff alerts: to the staff address list (a digest) and the staff Telegram chat.
        Kind("provider.balance_low", _("Provider balance low"), STAFF),
        Kind("provider.failing", _("Provider failing (circuit open)"), STAFF),
        Kind("sync.failed", _("Catalog sync failed"), STAFF),
        Kind("order.attention", _("Order needs attention"), STAFF),
        Kind("reconcile.issues", _("Reconciliation found issues"), STAFF),
        Kind("deposit.pending", _("Deposit waiting for approval"), STAFF),
        Kind("ticket.new", _("New support ticket"), STAFF),
        Kind("currency.rates", _("Exchange rates not updated (feed failed or stale)"), STAFF),
    )
}

WEBHOOK_KINDS = [kind for kind in KINDS.values() if kind.webhook and kind.name != "webhook.test"]
EMAIL_KINDS = [kind for kind in KINDS.values() if kind.email]
TELEGRAM_KINDS = [kind for kind in KINDS.values() if kind.telegram]


def kind_of(name: str) -> Kind | None:
    return KINDS.get(name)
