"""The staff roles, as Django groups kept up to date after every migrate.

- Admin: every permission (providers, catalog, orders, money, customers, reports, roles).
- Support: reads orders, refills, cancels, customers and their ledger; answers, assigns and
  closes tickets. No money actions, no order actions, no customer changes.

A staff member's role is the group they are in (or superuser). The permissions named here are
re-granted on each migrate; anything staff add to a group by hand is kept.
"""

from django.contrib.auth.models import Group, Permission

SUPPORT_PERMISSIONS = [
    "orders.view_order",
    "orders.view_orderevent",
    "orders.view_refill",
    "orders.view_cancelrequest",
    "accounts.view_user",
    "accounts.view_ledgerentry",
    "catalog.view_service",
    "catalog.view_category",
    "support.view_ticket",
    "support.change_ticket",
    "support.view_ticketmessage",
    "support.add_ticketmessage",
    "billing.view_depositrequest",
    "billing.view_deposit",
    "billing.view_gatewayevent",
    "billing.view_reversal",
    "billing.view_payoutrequest",
    "support.view_ticketassignment",
    "support.add_ticketassignment",
    "support.change_ticketassignment",
]


def _permissions(names: list[str]) -> list[Permission]:
    wanted = {tuple(name.split(".", 1)) for name in names}
    found = Permission.objects.filter(content_type__app_label__in={app for app, _ in wanted}).select_related(
        "content_type"
    )
    return [p for p in found if (p.content_type.app_label, p.codename) in wanted]


def ensure_roles(**kwargs) -> None:
    admin, _ = Group.objects.get_or_create(name="Admin")
    admin.permissions.add(*Permission.objects.all())
    support, _ = Group.objects.get_or_create(name="Support")
    support.permissions.add(*_permissions(SUPPORT_PERMISSIONS))
