"""Suspend, resume, export and delete a child panel: services, tasks and the staff's pages."""

import gzip
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_exists

from accounts.models import AuditLog
from childpanels import lifecycle
from tenants.models import Domain, Panel, PanelStatus
from tenants.services import panel_create
from tenants.tests.conftest import CHILDREN

# Exports and deletes run outside transactions (as in production): real commits, and the tasks
# enqueued on them run (eagerly) after each commit.
pytestmark = pytest.mark.django_db(transaction=True)

A, B = "child_a", "child_b"


@pytest.fixture(autouse=True)
def _staff_without_2fa(settings, plain_static_storage):
    settings.STAFF_REQUIRE_2FA = False


def act(client, panel, action, **data):
    return client.post(reverse("admin:childpanels_panel_action", args=[panel.pk, action]), data)


@pytest.fixture
def restore(children):
    """Whatever a test did to child_a's and child_b's rows, they are active and unexported after."""
    yield children
    connection.set_schema_to_public()
    Panel.objects.filter(schema_name__in=[A, B]).update(
        status=PanelStatus.ACTIVE,
        suspended_reason="",
        suspended_at=None,
        exported_at=None,
        export_file="",
        paid_until=None,
    )


def test_suspend_answers_503_and_the_api_error_then_resume(restore, admin_staff, client):
    panel = restore[A]
    client.force_login(admin_staff)
    page = client.get(reverse("admin:childpanels_panel_action", args=[panel.pk, "suspend"]))
    assert page.status_code == 200 and b"cp-action-form" in page.content  # the confirmation first
    assert act(client, panel, "suspend", reason="abuse report").status_code == 302
    panel.refresh_from_db()
    assert panel.status == PanelStatus.SUSPENDED and panel.suspended_reason == "staff" and panel.suspended_at
    host = CHILDREN[A]
    assert Client().get("/", HTTP_HOST=host).status_code == 503
    api = Client().post("/api/v2", {"key": "x", "action": "balance"}, HTTP_HOST=host)
    assert api.status_code == 503 and api.json() == {"error": "This panel is suspended."}
    assert Client().get("/healthz", HTTP_HOST=CHILDREN[B]).status_code == 200  # the other is untouched
    connection.set_schema_to_public()
    row = AuditLog.objects.get(action="childpanel.suspend")
    assert row.actor_id == admin_staff.pk and row.reason == "abuse report" and row.before["status"] == "active"

    assert act(client, panel, "resume", reason="sorted out").status_code == 302
    panel.refresh_from_db()
    assert panel.status == PanelStatus.ACTIVE and panel.suspended_at is None
    assert Client().get("/healthz", HTTP_HOST=host).status_code == 200
    connection.set_schema_to_public()
    assert AuditLog.objects.filter(action="childpanel.resume", actor=admin_staff).count() == 1


def test_an_unpaid_panel_resumes_only_once_paid_until_is_in_the_future(restore, admin_staff, client):
    panel = restore[A]
    Panel.objects.filter(pk=panel.pk).update(
        status=PanelStatus.SUSPENDED,
        suspended_reason="unpaid",
        suspended_at=timezone.now(),
        paid_until=timezone.now() - timedelta(days=1),
    )
    client.force_login(admin_staff)
    response = act(client, panel, "resume")
    assert response.status_code == 200
    assert "not paid" in response.content.decode()
    panel.refresh_from_db()
    assert panel.status == PanelStatus.SUSPENDED
    assert not AuditLog.objects.filter(action="childpanel.resume").exists()
    # Staff extend it by hand (audited), then it resumes.
    lifecycle.panel_terms_change(
        panel_id=panel.pk, actor_id=admin_staff.pk, paid_until=timezone.now() + timedelta(days=30), reason="goodwill"
    )
    assert act(client, panel, "resume").status_code == 302
    panel.refresh_from_db()
    assert panel.status == PanelStatus.ACTIVE
    assert AuditLog.objects.filter(action="childpanel.terms", reason="goodwill").count() == 1


def test_suspend_twice_is_one_change_and_a_deleted_panel_cannot_be_suspended(restore, admin_staff):
    panel = restore[A]
    lifecycle.panel_suspend(panel_id=panel.pk, actor_id=admin_staff.pk)
    lifecycle.panel_suspend(panel_id=panel.pk, actor_id=admin_staff.pk)
    assert AuditLog.objects.filter(action="childpanel.suspend").count() == 1
    with pytest.raises(lifecycle.LifecycleError):
        lifecycle.panel_resume(panel_id=panel.pk + 10_000, actor_id=admin_staff.pk)


def _export_rows(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def test_export_holds_the_childs_rows_and_none_of_another_panels(
    restore, admin_staff, client, in_schema, make_customer
):
    # Child schemas keep their rows between tests (only the parent's tables are emptied): new names.
    tag = uuid.uuid4().hex[:8]
    alice, bob, carol = f"alice-of-a-{tag}", f"bob-of-b-{tag}", f"carol-of-parent-{tag}"
    with in_schema(A):
        make_customer(alice)
    with in_schema(B):
        make_customer(bob)
    make_customer(carol)
    panel = restore[A]
    client.force_login(admin_staff)
    # Eager Celery in tests: the task ran on the commit of the request.
    assert act(client, panel, "export").status_code == 302
    panel.refresh_from_db()
    assert panel.exported_at is not None and panel.export_file.startswith("child_a-")
    path = lifecycle.export_path(panel)
    assert path is not None and path.parent == Path(django_settings.VAR_DIR).resolve() / "exports"
    rows = _export_rows(path)
    users = {r["fields"]["username"] for r in rows if r["model"] == "accounts.user"}
    assert alice in users and f"{A}_staff" in users
    assert not users & {bob, carol, f"{B}_staff"}
    models = {r["model"] for r in rows}
    assert "accounts.ledgerentry" in models
    assert not any(m.startswith("tenants.") or m == "sessions.session" for m in models)
    assert not list(path.parent.glob(".partial-*"))
    assert AuditLog.objects.filter(action="childpanel.export", actor=admin_staff).count() == 1

    # The download: permission checked, an attachment, audited.
    page = client.get(reverse("admin:tenants_panel_change", args=[panel.pk])).content.decode()
    assert 'id="cp-download"' in page
    response = client.get(reverse("admin:childpanels_panel_download", args=[panel.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert gzip.decompress(b"".join(response.streaming_content)).startswith(b"[")
    assert AuditLog.objects.filter(action="childpanel.export_download").count() == 1
    path.unlink()


def test_the_export_task_twice_records_the_later_file(restore):
    from childpanels.tasks.lifecycle import panel_export_task

    panel = restore[B]
    first = Path(panel_export_task(panel.pk))
    second = Path(panel_export_task(panel.pk))
    panel.refresh_from_db()
    assert first != second and panel.export_file == second.name
    first.unlink()
    second.unlink()


def test_delete_is_refused_until_suspended_exported_and_confirmed(restore, admin_staff, client):
    panel = restore[A]
    client.force_login(admin_staff)

    def refused(**data) -> str:
        response = act(client, panel, "delete", **data)
        assert response.status_code == 200
        panel.refresh_from_db()
        assert panel.status != PanelStatus.DELETED and schema_exists(A)
        return response.content.decode()

    assert "Suspend the panel first" in refused(confirm_domain=CHILDREN[A])
    lifecycle.panel_suspend(panel_id=panel.pk, actor_id=admin_staff.pk)
    assert "Export the panel first" in refused(confirm_domain=CHILDREN[A])
    # An export made before the suspension does not count (unless within 24 h: make it older).
    path = lifecycle.panel_export(panel_id=panel.pk)
    Panel.objects.filter(pk=panel.pk).update(
        exported_at=timezone.now() - timedelta(days=3), suspended_at=timezone.now() - timedelta(days=1)
    )
    assert "Export the panel first" in refused(confirm_domain=CHILDREN[A])
    Panel.objects.filter(pk=panel.pk).update(exported_at=timezone.now())
    assert "Type the panel" in refused(confirm_domain="b.panels.test")
    assert "This field is required" in refused(confirm_domain="")
    assert Domain.objects.filter(tenant=panel).exists()
    assert not AuditLog.objects.filter(action="childpanel.delete").exists()
    path.unlink()


def test_delete_drops_the_schema_and_files_and_keeps_the_row(children, admin_staff, client, in_schema, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, ".panels.test"]
    schema, domain = "cp_delete_me", "gone.panels.test"
    if schema_exists(schema):
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
    Panel.objects.filter(schema_name=schema).delete()
    made = panel_create(
        name="Doomed",
        schema_name=schema,
        domain=domain,
        staff_username="doomed_staff",
        staff_email="staff@gone.panels.test",
        staff_password="doomed-Secret-123",
    )
    panel = made.panel
    files = Path(settings.VAR_DIR) / "tenants" / schema
    files.mkdir(parents=True, exist_ok=True)
    (files / "attachment.txt").write_text("a ticket's attachment")
    assert Client().get("/healthz", HTTP_HOST=domain).status_code == 200
    connection.set_schema_to_public()

    client.force_login(admin_staff)
    assert act(client, panel, "suspend").status_code == 302
    assert act(client, panel, "export").status_code == 302
    panel.refresh_from_db()
    export = lifecycle.export_path(panel)
    assert export is not None
    page = client.get(reverse("admin:childpanels_panel_action", args=[panel.pk, "delete"])).content.decode()
    assert "cp-needs-export" not in page and domain in page
    response = act(client, panel, "delete", confirm_domain=" Gone.Panels.Test. ", reason="owner left")
    assert response.status_code == 302, response.content.decode()[:1500]

    panel.refresh_from_db()
    assert panel.status == PanelStatus.DELETED and panel.deleted_at is not None
    assert not schema_exists(schema)
    assert not Domain.objects.filter(tenant=panel).exists()
    assert not files.exists()
    assert export.exists()  # the export outlives the panel
    row = AuditLog.objects.get(action="childpanel.delete")
    assert row.before["domains"] == [domain] and row.reason == "owner left"
    # Its host name is the parent's now; the page of the row stays, read-only, without actions.
    assert Client().get("/healthz", HTTP_HOST=domain).status_code == 200
    assert connection.schema_name == "public"
    page = client.get(reverse("admin:tenants_panel_change", args=[panel.pk])).content.decode()
    assert "cp-actions" not in page and "Deleted on" in page
    # The purge again (a retried task) finds nothing left to do and breaks nothing.
    assert lifecycle.panel_purge(panel_id=panel.pk) is True
    with pytest.raises(lifecycle.LifecycleError):
        lifecycle.panel_delete(panel_id=panel.pk, actor_id=admin_staff.pk, confirm_domain=domain)
    export.unlink()
    Panel.objects.filter(pk=panel.pk).delete()


def test_the_services_enqueue_tasks_every_process_knows():
    from panel.celery import app

    assert {lifecycle.EXPORT_TASK, lifecycle.PURGE_TASK} <= set(app.tasks)
