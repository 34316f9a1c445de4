"""What the parent's staff do to a child panel: change its terms, suspend, resume, export, delete;
and the plan new panels are sold on.

Every action is one function with keyword-only arguments that locks the panel's registry row,
checks the state, changes it and writes the audit row in one transaction. The slow parts (writing
the export file, dropping the schema) run after the commit in Celery tasks
(childpanels.tasks.lifecycle), each safe to run twice: the export writes a new file and records
it only if it is newer than the one recorded; the purge drops a schema and files that may already
be gone.

Deleting refunds nothing: fees already paid stay paid (README "Child panels: staff").
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import timedelta
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context, schema_exists

from accounts.services import audit_record
from panel.celery import app
from tenants.models import ChildPanelPlan, Domain, Panel, PanelStatus, SuspendedReason

logger = logging.getLogger(__name__)

# An export counts for deleting when it finished after the last suspension, or this recently.
EXPORT_FRESH_FOR = timedelta(hours=24)
# Never dropped, whatever a row says (the registry's CHECK already refuses most of these names).
UNDROPPABLE = {"public", "information_schema"}
# Tables that are not the panel's data: the registry (reached through the search path's
# `public`, never the child's) and live sessions (bearer secrets that would outlive the panel).
EXPORT_EXCLUDE = {"tenants", "sessions"}


# The tasks (childpanels.tasks.lifecycle) are enqueued by name: tasks import this module, never
# the other way round.
EXPORT_TASK = "childpanels.export_panel"
PURGE_TASK = "childpanels.purge_panel"


def _enqueue(task_name: str, *args) -> None:
    app.signature(task_name, args=args).delay()


def export_models() -> list[str]:
    """Every model with a table in a child's schema (`app.Model`), minus EXPORT_EXCLUDE: no
    table-less models (the staff permissions' holder), no proxies, no registry."""
    return [
        model._meta.label
        for model in apps.get_models()
        if model._meta.managed
        and not model._meta.proxy
        and model._meta.app_label not in EXPORT_EXCLUDE
        and model._meta.label_lower not in EXPORT_EXCLUDE
    ]


class LifecycleError(ValueError):
    """The action is refused; the message is for staff (translated)."""


TERM_FIELDS = ("monthly_price", "max_customers", "max_services", "max_staff", "paid_until")
PLAN_FIELDS = ("selling", "monthly_price", "max_customers", "max_services", "max_staff", "warn_days")


def _locked(panel_id: int) -> Panel:
    try:
        return Panel.objects.select_for_update().get(pk=panel_id)
    except Panel.DoesNotExist:
        raise LifecycleError(_("This child panel does not exist.")) from None


def exports_dir() -> Path:
    """Exports of child panels: the parent's var dir, never a child's own folder (which a delete
    removes)."""
    return Path(settings.VAR_DIR) / "exports"


def export_path(panel: Panel) -> Path | None:
    """The recorded export's file, if it is still on disk and inside the exports folder."""
    if not panel.export_file:
        return None
    folder = exports_dir().resolve()
    path = (folder / panel.export_file).resolve()
    if path.parent != folder or not path.is_file():
        return None
    return path


def export_fresh(panel: Panel, *, now=None) -> bool:
    """True when an export finished after the panel was last suspended (or in the last 24 h) and
    its file is still there: what deleting needs."""
    if panel.exported_at is None or export_path(panel) is None:
        return False
    now = now or timezone.now()
    after_suspension = panel.suspended_at is not None and panel.exported_at >= panel.suspended_at
    return after_suspension or panel.exported_at >= now - EXPORT_FRESH_FOR


def primary_domain(panel: Panel) -> str:
    domains = sorted(Domain.objects.filter(tenant=panel).values_list("is_primary", "domain"), reverse=True)
    return domains[0][1] if domains else ""


def _save_changes(obj, values: dict, *, action: str, actor_id: int | None, reason: str):
    """Write the fields of `values` that differ on the (locked) row and audit them, before and
    after; nothing changed writes nothing, so a repeated form is not a second audit row."""
    before = {f: getattr(obj, f) for f in values if getattr(obj, f) != values[f]}
    if not before:
        return obj
    for field in before:
        setattr(obj, field, values[field])
    obj.save(update_fields=list(before))
    audit_record(
        actor_id=actor_id, action=action, obj=obj, before=before, after={f: values[f] for f in before}, reason=reason
    )
    return obj


@transaction.atomic
def panel_terms_change(*, panel_id: int, actor_id: int | None, reason: str = "", **terms) -> Panel:
    """Change a panel's monthly price, limits or paid-until date (extending it by hand), audited
    with what it was before."""
    unknown = set(terms) - set(TERM_FIELDS)
    if unknown:
        raise TypeError(f"Unknown terms: {sorted(unknown)}")
    panel = _locked(panel_id)
    if panel.status == PanelStatus.DELETED:
        raise LifecycleError(_("A deleted panel cannot be changed."))
    if terms.get("monthly_price") is not None and terms["monthly_price"] < 0:
        raise LifecycleError(_("The monthly price cannot be negative."))
    return _save_changes(panel, terms, action="childpanel.terms", actor_id=actor_id, reason=reason)


@transaction.atomic
def panel_suspend(*, panel_id: int, actor_id: int | None, reason: str = "") -> Panel:
    """Suspend a panel by staff's decision: its pages answer 503 and its API an error (the
    middleware), its data stays. Only staff resume it, even once it is paid."""
    panel = _locked(panel_id)
    if panel.status not in (PanelStatus.ACTIVE, PanelStatus.SUSPENDED):
        raise LifecycleError(_("Only an active panel, or one suspended for non-payment, can be suspended."))
    if panel.status == PanelStatus.SUSPENDED and panel.suspended_reason == SuspendedReason.STAFF:
        return panel
    before = {"status": panel.status, "suspended_reason": panel.suspended_reason}
    panel.status = PanelStatus.SUSPENDED
    panel.suspended_reason = SuspendedReason.STAFF
    # A panel already suspended for non-payment keeps the date it stopped serving.
    if panel.suspended_at is None or before["status"] != PanelStatus.SUSPENDED:
        panel.suspended_at = timezone.now()
    panel.save(update_fields=["status", "suspended_reason", "suspended_at"])
    audit_record(
        actor_id=actor_id,
        action="childpanel.suspend",
        obj=panel,
        before=before,
        after={"status": panel.status, "suspended_reason": panel.suspended_reason},
        reason=reason,
    )
    return panel


@transaction.atomic
def panel_resume(*, panel_id: int, actor_id: int | None, reason: str = "") -> Panel:
    """Serve a suspended panel again. One suspended for non-payment comes back only while it is
    paid (paid_until in the future): staff extend `paid_until` first, or wait for the payment."""
    panel = _locked(panel_id)
    if panel.status != PanelStatus.SUSPENDED:
        raise LifecycleError(_("Only a suspended panel can be resumed."))
    if panel.suspended_reason == SuspendedReason.UNPAID and (
        panel.paid_until is None or panel.paid_until <= timezone.now()
    ):
        raise LifecycleError(
            _(
                "This panel was suspended for non-payment and is not paid: wait for the owner's "
                "payment, or extend “paid until” on this page first."
            )
        )
    before = {"status": panel.status, "suspended_reason": panel.suspended_reason}
    panel.status = PanelStatus.ACTIVE
    panel.suspended_reason = SuspendedReason.NONE
    panel.suspended_at = None
    panel.save(update_fields=["status", "suspended_reason", "suspended_at"])
    audit_record(
        actor_id=actor_id,
        action="childpanel.resume",
        obj=panel,
        before=before,
        after={"status": panel.status},
        reason=reason,
    )
    return panel


@transaction.atomic
def panel_export_request(*, panel_id: int, actor_id: int | None) -> Panel:
    """Ask for an export of the panel's data; a Celery task writes it after the commit."""
    panel = _locked(panel_id)
    if panel.status not in (PanelStatus.ACTIVE, PanelStatus.SUSPENDED):
        raise LifecycleError(_("Only an active or suspended panel can be exported."))
    audit_record(actor_id=actor_id, action="childpanel.export", obj=panel, after={"schema": panel.schema_name})
    transaction.on_commit(lambda: _enqueue(EXPORT_TASK, panel.pk))
    return panel


def panel_export(*, panel_id: int) -> Path:
    """Write the panel's whole data (every table of its schema, Django's JSON fixtures format,
    gzip) to var/exports/<schema>-<UTC time>.json.gz and record it on the registry row.

    dumpdata reads each table with a server-side cursor and writes the rows as it goes, so memory
    stays flat however big the panel is. Outside any transaction: it takes as long as it takes.
    """
    if connection.in_atomic_block:
        raise RuntimeError("panel_export runs outside transactions.")
    connection.set_schema_to_public()
    panel = Panel.objects.get(pk=panel_id)
    if panel.status not in (PanelStatus.ACTIVE, PanelStatus.SUSPENDED) or not schema_exists(panel.schema_name):
        raise LifecycleError(_("Only an active or suspended panel can be exported."))
    folder = exports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    started = timezone.now()
    name = f"{panel.schema_name}-{started:%Y%m%dT%H%M%S%fZ}.json.gz"
    # Written under a name no one reads, then renamed: a half-written file is never offered.
    partial = folder / f".partial-{os.getpid()}-{name}"
    try:
        with schema_context(panel.schema_name):
            call_command("dumpdata", *export_models(), output=str(partial), verbosity=0)
        os.replace(partial, folder / name)
    finally:
        partial.unlink(missing_ok=True)
        connection.set_schema_to_public()
    # Recorded only if newer than what is recorded: two exports at once leave the later one.
    Panel.objects.filter(Q(exported_at__isnull=True) | Q(exported_at__lt=started), pk=panel.pk).update(
        exported_at=started, export_file=name
    )
    logger.info("child panel %s exported to %s", panel.schema_name, name)
    return folder / name


def export_downloaded(*, panel_id: int, actor_id: int | None) -> None:
    """Who took a copy of a panel's data: an audit row per download."""
    panel = Panel.objects.get(pk=panel_id)
    audit_record(actor_id=actor_id, action="childpanel.export_download", obj=panel, after={"file": panel.export_file})


def panel_delete(*, panel_id: int, actor_id: int | None, confirm_domain: str, reason: str = "") -> Panel:
    """Delete a suspended panel whose data was exported: its host names stop routing at once, its
    row becomes `deleted` (kept for the parent's history and revenue), and after the commit a task
    drops its schema and files. Nothing is refunded."""
    with transaction.atomic():
        panel = _locked(panel_id)
        if panel.status == PanelStatus.DELETED:
            raise LifecycleError(_("This panel is already deleted."))
        if panel.status != PanelStatus.SUSPENDED:
            raise LifecycleError(_("Suspend the panel first: only a suspended panel can be deleted."))
        if not export_fresh(panel):
            raise LifecycleError(
                _(
                    "Export the panel first: deleting needs an export made after it was suspended "
                    "(or in the last 24 hours)."
                )
            )
        domain = primary_domain(panel)
        typed = (confirm_domain or "").strip().rstrip(".").lower()
        if not domain or typed != domain:
            raise LifecycleError(_("Type the panel's domain exactly to confirm."))
        domains = list(Domain.objects.filter(tenant=panel).values_list("domain", flat=True))
        Domain.objects.filter(tenant=panel).delete()
        before = {"status": panel.status, "domains": domains}
        panel.status = PanelStatus.DELETED
        panel.deleted_at = timezone.now()
        panel.save(update_fields=["status", "deleted_at"])
        audit_record(
            actor_id=actor_id,
            action="childpanel.delete",
            obj=panel,
            before=before,
            after={"status": panel.status, "export_file": panel.export_file},
            reason=reason,
        )
        transaction.on_commit(lambda: _enqueue(PURGE_TASK, panel.pk))
    return panel


def panel_purge(*, panel_id: int) -> bool:
    """Drop a deleted panel's schema and its files and unwire it from the parent's provider side.
    Safe to run again: what is already gone is skipped. False if the panel is not deleted."""
    if connection.in_atomic_block:
        raise RuntimeError("panel_purge runs outside transactions (it drops a schema).")
    connection.set_schema_to_public()
    panel = Panel.objects.filter(pk=panel_id, status=PanelStatus.DELETED).first()
    if panel is None:
        return False
    schema = panel.schema_name
    if schema in UNDROPPABLE or schema == settings.TENANT_BASE_SCHEMA or schema.startswith("pg_"):
        raise RuntimeError(f"refusing to drop schema {schema!r}")
    with connection.cursor() as cursor:
        # The name matched the registry's CHECK (lower-case letters, digits, _): safe quoted.
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    shutil.rmtree(Path(settings.VAR_DIR) / "tenants" / schema, ignore_errors=True)
    unwire = _provider_unwire()
    if unwire is not None:
        unwire(panel_id=panel.pk)
    logger.info("child panel %s purged", schema)
    return True


def _provider_unwire():
    """childpanels.provider.provider_unwire (revokes the owner's key for the panel), when that part
    is installed."""
    try:
        from . import provider
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.provider":
            raise
        return None
    return getattr(provider, "provider_unwire", None)


@transaction.atomic
def plan_change(*, actor_id: int | None, reason: str = "", **values) -> ChildPanelPlan:
    """Change the plan new child panels are sold on (panels bought earlier keep their terms)."""
    unknown = set(values) - set(PLAN_FIELDS)
    if unknown:
        raise TypeError(f"Unknown plan fields: {sorted(unknown)}")
    current = ChildPanelPlan.current()
    plan = ChildPanelPlan.objects.select_for_update().get(pk=current.pk)
    if values.get("monthly_price") is not None and values["monthly_price"] < 0:
        raise LifecycleError(_("The monthly price cannot be negative."))
    return _save_changes(plan, values, action="childpanel.plan", actor_id=actor_id, reason=reason)
