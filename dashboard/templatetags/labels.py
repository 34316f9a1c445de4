"""Status words as customers read them, in their language.

An order's or refill's status is stored as the protocol's English word ("In progress"): it is
data, answered verbatim by the API and sent in webhooks. Pages and emails show it through
`status_label`, which maps the stored word to a translated label and never changes the value.
The lower-case states of tickets, deposits and payouts get the same labels their models give them.
"""

from django import template
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from notifications.models import CatalogUpdate

register = template.Library()

STATUS_LABELS = {
    # Orders and refills (the protocol's words).
    "Pending": _("Pending"),
    "In progress": _("In progress"),
    "Processing": _("Processing"),
    "Completed": _("Completed"),
    "Partial": _("Partial"),
    "Canceled": _("Canceled"),
    "Rejected": _("Rejected"),
    # Tickets, deposits, payouts (stored in lower case).
    "open": _("Open"),
    "answered": _("Answered"),
    "closed": _("Closed"),
    "created": _("Created"),
    "pending": _("Pending"),
    "approved": _("Approved"),
    "rejected": _("Rejected"),
    "paid": _("Paid"),
    "partial": _("Partly paid"),
    "failed": _("Failed"),
    "expired": _("Expired"),
    "credited": _("Credited to balance"),
    "paid_outside": _("Paid outside the panel"),
}


@register.filter
def status_label(value) -> str:
    """The label of a stored status word; a word we do not know is shown as it is."""
    label = STATUS_LABELS.get(str(value)) if value is not None else None
    return str(label) if label is not None else ("" if value is None else str(value))


@register.filter
def update_label(value) -> str:
    """The label of a catalog update's kind ("price_up": "Price up")."""
    labels = dict(CatalogUpdate.Kind.choices)
    return str(labels.get(value, value or ""))


@register.filter
def refusal(value) -> str:
    """A protocol text a page shows (an order engine refusal such as "Order can not be
    canceled", kept in English where it is stored): the catalogue's translation if it has one."""
    return gettext(str(value)) if value else ""
