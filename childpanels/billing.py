"""Buying a child panel, building it, renewing it monthly, suspending it unpaid and restoring it.

All of it runs in the parent's (`public`) schema: the registry (`tenants.Panel`) and the owners'
balances live there. Money moves only through accounts.ledger, with one idempotency key per
panel and period (`childpanel:<panel id>:period:<period start>`), so a renewal that runs twice,
or two runs at once, charges a period once. Each step that changes a panel's state locks its
registry row (`SELECT ... FOR UPDATE`) and checks the state it expects, so two workers never
both act. Building the schema (DDL, seconds) runs outside any transaction, under a PostgreSQL
advisory lock per panel, and never charges.
"""

import datetime
import importlib
import importlib.util
import ipaddress
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_tenants.utils import schema_context, schema_exists

from accounts.ledger import InsufficientFunds, ledger_debit
from accounts.models import LedgerEntry, User
from panel.celery import app
from panel.events import DomainEvent, emit
from panel.tenancy import is_child, parent_hosts
from tenants.lookup import registry_changed
from tenants.models import ChildPanelPlan, Domain, Panel, PanelStatus, SuspendedReason
from tenants.services import RESERVED_SCHEMAS, template_migrate, template_schema

log = logging.getLogger(__name__)

PERIOD = relativedelta(months=1)
# How many panels one customer may own at once (deleted ones do not count): enough for any real
# reseller, and a stop for a script that would buy panels in a loop.
MAX_PANELS_PER_CUSTOMER = 10
# A pending panel whose build has not finished after this long is built again by the renewal run
# (its task was lost, or failed every retry).
BUILD_RETRY_AFTER = datetime.timedelta(minutes=5)
# Subdomains of CHILD_PANEL_DOMAIN a customer cannot take: they look like the install's own.
RESERVED_LABELS = {"www", "api", "admin", "mail", "smtp", "panel", "app", "static", "media", "ns1", "ns2"}
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# advisory lock namespaces (the first of pg_advisory_lock's two keys)
BUILD_TASK = "childpanels.build_panel"
PAY_TASK = "childpanels.pay_owner_panels"
_BUILD_LOCK = 7021
_TEMPLATE_LOCK = 7022


class BuyError(Exception):
    """A purchase refused, with a message for the customer (in their language)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotEnoughFunds(BuyError):
    pass


def period_key(panel_id: int, start: datetime.datetime) -> str:
    return f"childpanel:{panel_id}:period:{start.isoformat()}"


def _charge_period(panel: Panel, *, start: datetime.datetime, end: datetime.datetime, domain: str = "") -> None:
    """Charge the owner one period of the panel (its own price) through the ledger, under the
    period's key (a replayed period moves nothing). Raises InsufficientFunds; the caller's
    transaction is left usable (a savepoint)."""
    price = panel.monthly_price
    domain = domain or panel_domain(panel) or panel.schema_name
    if price <= 0:
        return
    with transaction.atomic():
        ledger_debit(
            user_id=panel.owner_id,
            amount=price,
            kind=LedgerEntry.Kind.CHARGE,
            memo=f"Child panel {domain}: {start:%Y-%m-%d} to {end:%Y-%m-%d}",
            idempotency_key=period_key(panel.pk, start),
        )


def _event(kind: str, key: str, panel: Panel, **data) -> None:
    emit(
        DomainEvent(
            kind=kind,
            key=key,
            user_id=panel.owner_id,
            data={
                "panel_id": panel.pk,
                "name": panel.name,
                "domain": panel_domain(panel) or "",
                "monthly_price": str(panel.monthly_price),
                "currency": settings.PANEL_CURRENCY,
                "paid_until": panel.paid_until.isoformat() if panel.paid_until else "",
                **data,
            },
        )
    )


def _registry_changed() -> None:
    # queryset update() sends no signal: the cached host lookups (tenants.lookup) must see a
    # suspension or a restore at the next request, now and again after the commit.
    registry_changed()
    transaction.on_commit(registry_changed)


def panel_domain(panel: Panel) -> str | None:
    domains = Domain.objects.filter(tenant_id=panel.pk).order_by("-is_primary", "pk")
    return domains.values_list("domain", flat=True).first()


# --- domains ---------------------------------------------------------------------------------


def _parent_hosts() -> set[str]:
    hosts = set()
    for entry in parent_hosts():
        entry = entry.strip().lower().rstrip(".")
        if entry and entry != "*":
            hosts.add(entry.lstrip("."))
    panel_host = urlsplit(settings.PANEL_URL).hostname
    if panel_host:
        hosts.add(panel_host.lower())
    if settings.CHILD_PANEL_DOMAIN:
        hosts.add(settings.CHILD_PANEL_DOMAIN)
    return hosts


def domain_clean(raw: str) -> str:
    """The host name a customer asked for, lower-case and checked; raises BuyError.

    A single label ("acme") is a subdomain of CHILD_PANEL_DOMAIN when that is set; anything else
    is the customer's own domain, which they point at us.
    """
    domain = (raw or "").strip().rstrip(".").lower()
    if domain.startswith(("http://", "https://")):
        domain = (urlsplit(domain).hostname or "").rstrip(".")
    if not domain:
        raise BuyError(_("Enter a domain."), field="domain")
    try:
        ipaddress.ip_address(domain.strip("[]"))
    except ValueError:
        pass
    else:
        raise BuyError(_("Use a domain name, not an IP address."), field="domain")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise BuyError(_("This is not a valid domain name."), field="domain") from None
    base = settings.CHILD_PANEL_DOMAIN
    if "." not in domain:
        if not base:
            raise BuyError(_("Enter a full domain name, such as panel.example.com."), field="domain")
        if domain in RESERVED_LABELS:
            raise BuyError(_("This subdomain is reserved: choose another."), field="domain")
        domain = f"{domain}.{base}"
    labels = domain.split(".")
    if len(domain) > 253 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise BuyError(_("This is not a valid domain name."), field="domain")
    if base and domain.endswith("." + base) and domain[: -len(base) - 1] in RESERVED_LABELS:
        raise BuyError(_("This subdomain is reserved: choose another."), field="domain")
    if domain in _parent_hosts():
        raise BuyError(_("This domain is this panel's own: choose another."), field="domain")
    if Domain.objects.filter(domain=domain).exists():
        raise BuyError(_("This domain already serves a panel."), field="domain")
    return domain


def schema_name_for(domain: str) -> str:
    """A free schema name made from the domain: "acme.panels.example.com" -> "p_acme_panels_example_com"."""
    stem = ("p_" + re.sub(r"[^a-z0-9]+", "_", domain.lower()).strip("_"))[:34].rstrip("_")
    taken = set(Panel.objects.filter(schema_name__startswith=stem).values_list("schema_name", flat=True))
    name, n = stem, 1
    while name in taken or name in RESERVED_SCHEMAS or name == template_schema():
        n += 1
        name = f"{stem}_{n}"
    return name


# --- buying ----------------------------------------------------------------------------------


def panel_buy(
    *,
    user_id: int,
    name: str,
    domain: str,
    currency: str,
    staff_username: str,
    staff_email: str,
    staff_password_hash: str,
    now: datetime.datetime | None = None,
) -> Panel:
    """Buy a child panel for the customer: the panel row (pending), its domain and the first
    month's fee from their balance, in one transaction; the schema is built after the commit.

    Raises BuyError (NotEnoughFunds when the balance cannot pay); then nothing is written.
    """
    if is_child():
        raise BuyError(_("Child panels are bought on the parent panel."))
    now = now or timezone.now()
    plan = ChildPanelPlan.current()
    if not (settings.TENANCY and plan.selling):
        raise BuyError(_("Child panels are not for sale at the moment."))
    domain = domain_clean(domain)
    try:
        with transaction.atomic():
            # The customer's row lock serialises their purchases: the cap and a double submit of
            # the same form are decided one after the other.
            User.objects.select_for_update().only("pk").get(pk=user_id)
            owned = Panel.objects.filter(owner_id=user_id).exclude(status=PanelStatus.DELETED).count()
            if owned >= MAX_PANELS_PER_CUSTOMER:
                # The page's own wording (templates/dashboard/child_panels.html), singular and plural.
                raise BuyError(
                    ngettext(
                        "You have %(n)s child panel, the most one account may have.",
                        "You have %(n)s child panels, the most one account may have.",
                        owned,
                    )
                    % {"n": owned}
                )
            if Domain.objects.filter(domain=domain).exists():
                raise BuyError(_("This domain already serves a panel."), field="domain")
            panel = Panel(
                schema_name=schema_name_for(domain),
                name=name.strip(),
                status=PanelStatus.PENDING,
                owner_id=user_id,
                currency=currency,
                monthly_price=plan.monthly_price,
                max_customers=plan.max_customers,
                max_services=plan.max_services,
                max_staff=plan.max_staff,
                paid_until=now + PERIOD,
                staff_username=staff_username,
                staff_email=staff_email,
                staff_password_hash=staff_password_hash,
            )
            # The schema is made by the build task, after the commit and outside any transaction.
            panel.auto_create_schema = False
            panel.save()
            Domain.objects.create(domain=domain, tenant=panel, is_primary=True)
            try:
                _charge_period(panel, start=now, end=panel.paid_until, domain=domain)
            except InsufficientFunds:
                raise NotEnoughFunds(_("Your balance is too low to pay the first month.")) from None
            transaction.on_commit(lambda: _enqueue_build(panel.pk))
    except IntegrityError:
        # Another purchase took the domain (or its schema name) between the check and the insert.
        raise BuyError(_("This domain already serves a panel."), field="domain") from None
    return panel


def _enqueue_build(panel_id: int) -> None:
    # By name, as orders.queue does: tasks import this module, never the other way round.
    app.signature(BUILD_TASK, args=(panel_id,)).delay()


# --- building --------------------------------------------------------------------------------


class _AdvisoryLock:
    """A PostgreSQL session advisory lock: held across the build's own transactions, released on
    exit (or when the connection closes, should the worker die)."""

    def __init__(self, namespace: int, key: int, *, wait: bool) -> None:
        self.namespace, self.key, self.wait = namespace, key, wait
        self.held = False

    def __enter__(self) -> bool:
        function = "pg_advisory_lock" if self.wait else "pg_try_advisory_lock"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s, %s)", [self.namespace, self.key])
            row = cursor.fetchone()
        self.held = self.wait or bool(row[0])
        return self.held

    def __exit__(self, *exc) -> None:
        if self.held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [self.namespace, self.key])


def _template_ready() -> None:
    # The first build of an install makes the template (a full migration): one worker does it.
    if schema_exists(template_schema()):
        return
    with _AdvisoryLock(_TEMPLATE_LOCK, 0, wait=True):
        if not schema_exists(template_schema()):
            template_migrate()


def _provider_wire():
    """childpanels.provider.provider_wire (connects the child to the parent as its provider),
    when that part is installed."""
    if importlib.util.find_spec("childpanels.provider") is None:
        return None
    return getattr(importlib.import_module("childpanels.provider"), "provider_wire", None)


def panel_build(*, panel_id: int) -> str:
    """Make a bought panel's schema and first staff user, wire it to the parent, mark it active.

    Outside any transaction (the schema is copied by DDL). Safe twice and concurrently: one
    worker at a time holds the panel's advisory lock, each step checks what is done already, and
    only a pending panel becomes active. Never charges. Raises when a step fails (the task
    retries; the renewal run builds stuck panels again). Returns what happened.
    """
    if connection.in_atomic_block:
        raise RuntimeError("panel_build runs outside transactions (it copies a schema).")
    connection.set_schema_to_public()
    with _AdvisoryLock(_BUILD_LOCK, panel_id, wait=False) as held:
        if not held:
            return "busy"
        panel = Panel.objects.filter(pk=panel_id).first()
        if panel is None or panel.status != PanelStatus.PENDING:
            return "done"
        try:
            _template_ready()
            panel.create_schema(check_if_exists=True, verbosity=0)
            connection.set_schema_to_public()
            _staff_create(panel)
            wire = _provider_wire()
            if wire is not None:
                wire(panel_id=panel.pk)
            connection.set_schema_to_public()
        except Exception as exc:
            connection.set_schema_to_public()
            Panel.objects.filter(pk=panel_id).update(build_error=f"{type(exc).__name__}"[:255])
            log.exception("child panel %s: build failed", panel_id)
            raise
        with transaction.atomic():
            updated = Panel.objects.filter(pk=panel_id, status=PanelStatus.PENDING).update(
                status=PanelStatus.ACTIVE, staff_password_hash="", build_error=""
            )
            _registry_changed()
            if updated:
                panel.refresh_from_db()
                _event("childpanel.ready", f"childpanel:{panel.pk}:ready", panel)
    return "built" if updated else "done"


def _staff_create(panel: Panel) -> None:
    if not panel.staff_username:
        return
    with schema_context(panel.schema_name):
        staff = get_user_model()
        if not staff.objects.filter(username=panel.staff_username).exists():
            user = staff(
                username=panel.staff_username,
                email=panel.staff_email,
                is_staff=True,
                is_superuser=True,
                password=panel.staff_password_hash,
            )
            user.save()


# --- renewing, suspending, restoring ---------------------------------------------------------


def panel_warn(*, panel_id: int, now: datetime.datetime, warn_days: int) -> bool:
    """Tell the owner their panel renews soon: once per period (compare-and-set on warned_for)."""
    with transaction.atomic():
        panel = Panel.objects.select_for_update().filter(pk=panel_id, status=PanelStatus.ACTIVE).first()
        if panel is None or panel.paid_until is None or panel.warned_for == panel.paid_until:
            return False
        if not (panel.paid_until - datetime.timedelta(days=warn_days) <= now < panel.paid_until):
            return False
        Panel.objects.filter(pk=panel_id).update(warned_for=panel.paid_until)
        owner = User.objects.filter(pk=panel.owner_id).values_list("balance", flat=True).first()
        short = owner is not None and owner < panel.monthly_price
        _event(
            "childpanel.renewal_due",
            f"childpanel:{panel.pk}:due:{panel.paid_until.isoformat()}",
            panel,
            balance_short=short,
        )
    return True


def panel_renew(*, panel_id: int, now: datetime.datetime) -> str:
    """Charge the next period of an active panel whose paid time is over; suspend it (reason
    unpaid) when the owner's balance cannot pay. Returns "renewed", "suspended" or "not due"."""
    with transaction.atomic():
        panel = Panel.objects.select_for_update().filter(pk=panel_id, status=PanelStatus.ACTIVE).first()
        if panel is None or panel.paid_until is None or panel.paid_until > now or panel.owner_id is None:
            return "not due"
        start = panel.paid_until
        end = start + PERIOD
        try:
            _charge_period(panel, start=start, end=end)
        except InsufficientFunds:
            Panel.objects.filter(pk=panel.pk).update(
                status=PanelStatus.SUSPENDED, suspended_reason=SuspendedReason.UNPAID, suspended_at=now
            )
            _registry_changed()
            panel.refresh_from_db()
            _event("childpanel.suspended", f"childpanel:{panel.pk}:suspended:{start.isoformat()}", panel)
            return "suspended"
        Panel.objects.filter(pk=panel.pk).update(paid_until=end)
        _registry_changed()
        panel.refresh_from_db()
        _event("childpanel.renewed", f"childpanel:{panel.pk}:renewed:{start.isoformat()}", panel)
    return "renewed"


def panel_pay(*, panel_id: int, user_id: int | None = None, now: datetime.datetime | None = None) -> str:
    """Pay a panel suspended for non-payment: charge a fresh period from now and make it active.

    `user_id`, when given, must be the owner (the dashboard's "Pay now"). A panel staff
    suspended is never restored by paying. Returns "restored", "short" (the balance cannot pay),
    or "not suspended".
    """
    now = now or timezone.now()
    with transaction.atomic():
        rows = Panel.objects.select_for_update().filter(pk=panel_id)
        if user_id is not None:
            rows = rows.filter(owner_id=user_id)
        panel = rows.first()
        if (
            panel is None
            or panel.owner_id is None
            or panel.status != PanelStatus.SUSPENDED
            or panel.suspended_reason != SuspendedReason.UNPAID
        ):
            return "not suspended"
        end = now + PERIOD
        try:
            _charge_period(panel, start=now, end=end)
        except InsufficientFunds:
            return "short"
        Panel.objects.filter(pk=panel.pk).update(
            status=PanelStatus.ACTIVE, suspended_reason="", suspended_at=None, paid_until=end, warned_for=None
        )
        _registry_changed()
        panel.refresh_from_db()
        _event("childpanel.restored", f"childpanel:{panel.pk}:restored:{now.isoformat()}", panel)
    return "restored"


def owner_panels_pay(*, user_id: int) -> list[str]:
    """After money reached a customer: pay each of their panels suspended for non-payment."""
    ids = Panel.objects.filter(
        owner_id=user_id, status=PanelStatus.SUSPENDED, suspended_reason=SuspendedReason.UNPAID
    ).values_list("pk", flat=True)
    return [panel_pay(panel_id=pk) for pk in ids]


@dataclass
class RenewalRun:
    warned: int = 0
    renewed: int = 0
    suspended: int = 0
    restored: int = 0
    builds: int = 0


def renewals_run(*, now: datetime.datetime | None = None) -> RenewalRun | None:
    """The hourly pass over every bought panel: warn before the paid time ends, charge the next
    period when it has, suspend what cannot be paid, restore what now can, rebuild stuck builds.

    Only in the parent: beat sends every task to every panel, and a child has no registry.
    """
    if is_child():
        return None
    now = now or timezone.now()
    plan = ChildPanelPlan.current()
    run = RenewalRun()
    panels = Panel.objects.exclude(owner_id=None)
    due_soon = now + datetime.timedelta(days=plan.warn_days)
    for pk in panels.filter(status=PanelStatus.ACTIVE, paid_until__lte=due_soon).values_list("pk", flat=True):
        # A period at a time: a beat that was stopped for months catches up one month per step.
        for _step in range(24):
            outcome = panel_renew(panel_id=pk, now=now)
            if outcome == "renewed":
                run.renewed += 1
                continue
            run.suspended += outcome == "suspended"
            break
        run.warned += panel_warn(panel_id=pk, now=now, warn_days=plan.warn_days)
    unpaid = panels.filter(status=PanelStatus.SUSPENDED, suspended_reason=SuspendedReason.UNPAID)
    for pk in unpaid.values_list("pk", flat=True):
        run.restored += panel_pay(panel_id=pk, now=now) == "restored"
    stuck = panels.filter(status=PanelStatus.PENDING, created__lte=now - BUILD_RETRY_AFTER)
    for pk in stuck.values_list("pk", flat=True):
        _enqueue_build(pk)
        run.builds += 1
    return run


def on_events(sender, events, **kwargs) -> None:
    """panel.events receiver: a deposit credited to a customer who owns a panel suspended for
    non-payment pays for it right after the deposit commits (the hourly run would, later)."""
    if is_child():
        return
    for event in events:
        if event.kind != "deposit.credited" or event.user_id is None:
            continue
        try:
            owes = Panel.objects.filter(
                owner_id=event.user_id, status=PanelStatus.SUSPENDED, suspended_reason=SuspendedReason.UNPAID
            ).exists()
        except Exception:
            # Never into the deposit's own path: the hourly run restores the panel anyway.
            log.exception("could not look up child panels of customer %s", event.user_id)
            continue
        if owes:
            transaction.on_commit(
                lambda user_id=event.user_id: app.signature(PAY_TASK, args=(user_id,)).delay(), robust=True
            )
