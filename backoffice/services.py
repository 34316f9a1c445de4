"""Staff actions of the backoffice's own pages: one function per action, each writing its audit
row (accounts.AuditLog) in the same transaction as the change it records. Staff actions that
belong to a domain live with it and are audited there (deposits in billing.services, tickets in
support.services, balances and discounts in accounts.services).

Every action is safe to submit twice: a compare-and-set on the current state (or, for balance
adjustments, a ledger idempotency key derived from the form's one-time token) turns the second
submit into a no-op that writes nothing and reports "nothing to do". Refunds always go through
orders.settlement.order_settle, whose ledger keys make a second refund impossible.

Remote calls (resend, re-check, retrying refills and cancels) run outside any transaction: the
state change and its audit row commit first, then the provider is asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext_lazy

from accounts import services as accounts_services
from accounts.models import LedgerEntry, User
from accounts.services import BalanceRefused, api_key_rotate, audit_record
from catalog import services as catalog_services
from catalog.models import Category, PricingSettings, Service, ServiceChange, UpstreamService
from catalog.sync import known_type, service_for_upstream
from orders import staff
from orders.admin import cancel_state_label, forward_state_label, refill_state_label
from orders.cancels import cancel_requeue, cancels_forward
from orders.forwarding import order_forward
from orders.models import CancelRequest, ForwardState, Order, Refill
from orders.polling import order_recheck
from orders.refills import refill_requeue, refills_forward
from orders.staff import ActionError, StaffText, Term
from tenants.limits import services_room


@dataclass(frozen=True)
class Outcome:
    done: bool  # False: nothing to do (already in that state, e.g. a double submit)
    message: str  # for the staff member who acted, in their language
    extra: Any = None


def _shown(value: Any) -> Any:
    """A value put into a staff text as the reader sees it: a stored choice by its translated
    label (the forward and request states by orders.admin's, whose model labels stay English)."""
    if isinstance(value, ForwardState):
        return forward_state_label(value)
    if isinstance(value, CancelRequest.State):
        return cancel_state_label(value)
    if isinstance(value, Refill.State):
        return refill_state_label(value)
    if isinstance(value, models.Choices):
        return str(value.label)
    if isinstance(value, Term):
        return _(value)
    return value


def staff_text(message: Any) -> str:
    """A staff text (an orders.staff StaffText, an ActionError, or a plain string) in the active
    language: its template translated, with its values put in as the reader sees them. A plain
    string is translated when the catalogue has it, and shown as it is otherwise."""
    text = message.text if isinstance(message, ActionError) else message
    if not isinstance(text, StaffText):
        return _(str(text)) if str(text) else ""
    translated = _(text.template)
    if not text.params:
        return translated
    return translated % {name: _shown(value) for name, value in text.params.items()}


# What forwarding an order came to (orders.forwarding's outcome words), for the message staff read.
FORWARD_OUTCOMES = {
    "sent": pgettext_lazy("forwarding outcome", "sent"),
    "skipped": pgettext_lazy("forwarding outcome", "skipped (another worker has it, or it is not due yet)"),
    "deferred": pgettext_lazy("forwarding outcome", "deferred (tried again shortly)"),
    "not_sent": pgettext_lazy("forwarding outcome", "not sent (tried again later)"),
    "resend": pgettext_lazy("forwarding outcome", "outcome unknown; resending with the same key"),
    "unknown": pgettext_lazy("forwarding outcome", "outcome unknown; check the provider"),
    "rejected": pgettext_lazy("forwarding outcome", "rejected by the provider"),
    "provider_out_of_funds": pgettext_lazy("forwarding outcome", "the provider is out of funds"),
}


def forward_outcome_label(result: str) -> str:
    return str(FORWARD_OUTCOMES.get(result, result))


# --- Orders -------------------------------------------------------------------------------------
# The transitions are orders.staff's; these add the audit row in the same transaction and
# forward after commit where the change queued the order.


def _audited(change: staff.StaffChange, *, actor_id: int, action: str, reason: str = "", **after: Any) -> None:
    if change.done:
        audit_record(
            actor_id=actor_id,
            action=action,
            obj=change.subject,
            before=change.before,
            after={**change.after, **after},
            reason=reason,
        )


def order_resend(*, order_id: int, actor_id: int) -> Outcome:
    """Send an order whose outcome is unknown again (staff confirmed that they checked)."""
    with transaction.atomic():
        change = staff.order_resend(order_id=order_id, actor_id=actor_id)
        _audited(change, actor_id=actor_id, action="order.resend")
    if not change.done:
        return Outcome(False, staff_text(change.message))
    result = order_forward(order_id=order_id)
    message = _("Order %(id)s resent: %(result)s.") % {"id": order_id, "result": forward_outcome_label(result)}
    return Outcome(True, message, result)


def order_mark_sent(*, order_id: int, upstream_order_id: str, actor_id: int) -> Outcome:
    """Record the upstream ID staff found at the provider; polling takes over from there."""
    with transaction.atomic():
        change = staff.order_mark_sent_by_staff(
            order_id=order_id, upstream_order_id=upstream_order_id, actor_id=actor_id
        )
        _audited(change, actor_id=actor_id, action="order.mark_sent")
    return Outcome(change.done, staff_text(change.message))


def order_mark_final(
    *, order_id: int, status: str, actor_id: int, remains: int | None = None, reason: str = ""
) -> Outcome:
    """Mark an order Canceled, Partial or Completed; the refund is order_settle's, paid once."""
    with transaction.atomic():
        change = staff.order_mark_final(
            order_id=order_id, status=status, actor_id=actor_id, remains=remains, reason=reason
        )
        _audited(
            change, actor_id=actor_id, action=f"order.mark_{status.lower()}", reason=reason, refund=change.refunded
        )
    return Outcome(change.done, staff_text(change.message), change.refunded if change.done else None)


def order_recheck_now(*, order_id: int, actor_id: int) -> Outcome:
    """Ask the provider for the order's status now (outside any transaction), then audit."""
    order = Order.objects.get(pk=order_id)
    before = staff.order_fields(order)
    order = order_recheck(order_id=order_id)
    after = staff.order_fields(order)
    with transaction.atomic():
        audit_record(actor_id=actor_id, action="order.recheck", obj=order, before=before, after=after)
    changed = before != after
    status = order.get_status_display()
    if changed:
        return Outcome(True, _("Order %(id)s: %(status)s") % {"id": order_id, "status": status})
    return Outcome(False, _("Order %(id)s: %(status)s (no change).") % {"id": order_id, "status": status})


def order_move(*, order_id: int, service_id: int, actor_id: int) -> Outcome:
    """Move an unsent order to another provider's equivalent service, and send it there."""
    with transaction.atomic():
        change = staff.order_move(order_id=order_id, service_id=service_id, actor_id=actor_id)
        _audited(change, actor_id=actor_id, action="order.move")
    if not change.done:
        return Outcome(False, staff_text(change.message))
    result = order_forward(order_id=order_id)
    provider = change.subject.provider.name if change.subject.provider_id else ""
    message = _("Order %(id)s moved to %(provider)s: %(result)s.") % {
        "id": order_id,
        "provider": provider,
        "result": forward_outcome_label(result),
    }
    return Outcome(True, message, result)


# --- Refills and cancels -------------------------------------------------------------------------


def refill_retry(*, refill_id: int, actor_id: int) -> Outcome:
    with transaction.atomic():
        change = refill_requeue(refill_id=refill_id, actor_id=actor_id)
        _audited(change, actor_id=actor_id, action="refill.retry")
    if not change.done:
        return Outcome(False, staff_text(change.message))
    sent = refills_forward(refill_ids=[refill_id])
    if sent:
        return Outcome(True, _("Refill %(id)s sent.") % {"id": refill_id})
    return Outcome(True, _("Refill %(id)s queued.") % {"id": refill_id})


def cancel_retry(*, cancel_id: int, actor_id: int) -> Outcome:
    with transaction.atomic():
        change = cancel_requeue(cancel_id=cancel_id, actor_id=actor_id)
        _audited(change, actor_id=actor_id, action="cancel.retry")
    if not change.done:
        return Outcome(False, staff_text(change.message))
    confirmed = cancels_forward(cancel_ids=[cancel_id])
    if confirmed:
        return Outcome(True, _("Cancel %(id)s confirmed by the provider.") % {"id": cancel_id})
    return Outcome(True, _("Cancel %(id)s queued.") % {"id": cancel_id})


# --- Customers -----------------------------------------------------------------------------------

TOKEN = re.compile(r"^[0-9a-f]{32}$")


def balance_adjust(*, user_id: int, amount: Decimal, reason: str, token: str, actor_id: int) -> Outcome:
    """A signed correction of a customer's balance, through the ledger and audited
    (accounts.services.balance_adjust).

    `token` is the one-time value the form was rendered with: it becomes the ledger key, so a
    double submit (or a replayed request) adjusts once. Never takes a balance below zero.
    """
    reason = reason.strip()
    if not reason:
        raise ActionError(_("A reason is required."))
    if not TOKEN.match(token or ""):
        raise ActionError(_("The form expired; open it again."))
    try:
        posting = accounts_services.balance_adjust(
            user_id=user_id,
            amount=amount,
            reason=reason,
            memo=f"Staff adjustment: {reason}",
            idempotency_key=f"staff-adjust:{token}",
            actor_id=actor_id,
            kind=LedgerEntry.Kind.ADJUSTMENT,
        )
    except BalanceRefused as exc:
        raise ActionError(str(exc)) from None
    if not posting.created:
        return Outcome(False, _("This adjustment was already recorded."), posting.entry)
    entry = posting.entry
    message = _("Balance adjusted by %(amount)s; now %(balance)s.") % {
        "amount": Decimal(amount),
        "balance": entry.balance_after,
    }
    return Outcome(True, message, entry)


def customer_set_active(*, user_id: int, active: bool, actor_id: int, reason: str = "") -> Outcome:
    """Ban (inactive: logins, sessions and the API key stop working at once) or unban."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if user.is_active == active:
            if active:
                return Outcome(False, _("%(customer)s is already active.") % {"customer": user})
            return Outcome(False, _("%(customer)s is already banned.") % {"customer": user})
        if not active and (user.pk == actor_id or user.is_superuser):
            raise ActionError(_("You cannot ban yourself or a superuser."))
        User.objects.filter(pk=user.pk).update(is_active=active)
        audit_record(
            actor_id=actor_id,
            action="customer.unban" if active else "customer.ban",
            obj=user,
            before={"is_active": not active},
            after={"is_active": active},
            reason=reason,
        )
    if active:
        return Outcome(True, _("%(customer)s unbanned.") % {"customer": user})
    return Outcome(True, _("%(customer)s banned.") % {"customer": user})


def customer_api_key_reset(*, user_id: int, actor_id: int) -> Outcome:
    """Issue a new API key; the old one stops working. The key is returned once, in `extra`."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        before = {"api_key_prefix": user.api_key_prefix}
        raw_key = api_key_rotate(user=user)
        audit_record(
            actor_id=actor_id,
            action="customer.api_key_reset",
            obj=user,
            before=before,
            after={"api_key_prefix": raw_key[:8]},
        )
    return Outcome(True, _("New API key issued for %(customer)s.") % {"customer": user}, raw_key)


# --- Catalog -------------------------------------------------------------------------------------


def services_import(
    *,
    provider_id: int,
    upstream_ids: Iterable[int],
    actor_id: int,
    category_id: int | None = None,
    new_category: str = "",
    markup_percent: Decimal | None = None,
    enabled: bool = True,
) -> Outcome:
    """Create our services for the chosen upstream services of one provider, in bulk.

    The category is an existing one, a new one by name, or (neither given) one per upstream
    category name, created as needed. Upstream services we already sell are skipped, so a
    double submit creates nothing. Rates come from the pricing rules, never below cost.
    """
    upstream_ids = sorted({int(i) for i in upstream_ids})
    with transaction.atomic():
        catalog_services.lock_providers([provider_id])
        rows = list(
            UpstreamService.objects.select_related("provider")
            .filter(provider_id=provider_id, pk__in=upstream_ids, present=True)
            .exclude(services__isnull=False)
            .order_by("pk")
        )
        rows = [row for row in rows if known_type(row.type)]
        if not rows:
            return Outcome(False, _("Nothing to import: those services are already sold or cannot be sold."))
        # A child panel's plan includes so many services (tenants.limits): import what fits.
        free = services_room(Service.objects.count)
        if free == 0:
            return Outcome(False, _("This panel's plan includes no more services: its limit is reached."))
        skipped = 0 if free is None else max(0, len(rows) - free)
        rows = rows[: len(rows) - skipped]
        fixed: Category | None = None
        if category_id:
            fixed = Category.objects.get(pk=category_id)
        elif new_category.strip():
            fixed, _created = Category.objects.get_or_create(name=new_category.strip()[:255])
        by_name: dict[str, Category] = {}
        pricing = PricingSettings.load()
        changes: list[ServiceChange] = []
        created: list[Service] = []
        for row in rows:
            category = fixed
            if category is None:
                name = (row.category or "Other")[:255]
                if name not in by_name:
                    by_name[name], _created = Category.objects.get_or_create(name=name)
                category = by_name[name]
            service = service_for_upstream(row, category=category, enabled=enabled, markup_percent=markup_percent)
            catalog_services.apply_price(service, pricing, changes, provider_id=provider_id, upstream_service=row)
            created.append(service)
        Service.objects.bulk_create(created)
        ServiceChange.objects.bulk_create(
            [
                ServiceChange(
                    provider_id=provider_id,
                    upstream_service=s.upstream,
                    service=s,
                    kind=ServiceChange.Kind.IMPORTED,
                    field="rate",
                    new_value=str(s.rate),
                )
                for s in created
            ]
        )
        audit_record(
            actor_id=actor_id,
            action="catalog.import",
            obj=rows[0].provider,
            after={"services": [s.pk for s in created], "markup_percent": markup_percent},
        )
    message = ngettext("%(count)s service imported.", "%(count)s services imported.", len(created)) % {
        "count": len(created)
    }
    if skipped:
        message += " " + ngettext(
            "%(count)s service not imported: the panel's service limit is reached.",
            "%(count)s services not imported: the panel's service limit is reached.",
            skipped,
        ) % {"count": skipped}
    return Outcome(True, message, created)


def services_set_markup(*, service_ids: Iterable[int], markup_percent: Decimal | None, actor_id: int) -> Outcome:
    """Bulk markup change: set each service's own markup (None: back to the rules) and reprice."""
    service_ids = list(service_ids)
    with transaction.atomic():
        before = dict(Service.objects.filter(pk__in=service_ids).values_list("pk", "rate"))
        Service.objects.filter(pk__in=service_ids).update(markup_percent=markup_percent, fixed_rate=None)
        changed = catalog_services.prices_recompute(service_ids=service_ids)
        after = dict(Service.objects.filter(pk__in=service_ids).values_list("pk", "rate"))
        audit_record(
            actor_id=actor_id,
            action="catalog.markup",
            obj=PricingSettings(pk=1),
            before={"rates": {str(k): str(v) for k, v in before.items()}},
            after={"markup_percent": markup_percent, "rates": {str(k): str(v) for k, v in after.items()}},
        )
    message = ngettext(
        "Markup set on %(count)s service; %(changed)s rates changed.",
        "Markup set on %(count)s services; %(changed)s rates changed.",
        len(before),
    ) % {"count": len(before), "changed": changed}
    return Outcome(True, message)
