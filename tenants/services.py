"""Creating child panels and keeping their schemas (and the template they are cloned from) current.

A new child is a copy of `settings.TENANT_BASE_SCHEMA`, a schema that holds every table and the
rows migrations and post-migrate hooks put there (content types, permissions, staff roles, the
beat schedule, default pages) and nothing else: copying it takes seconds where running every
migration takes minutes. `migrate` keeps it current with every panel (tenants.management).
"""

import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

from .models import SCHEMA_NAME_RE, Domain, Panel, PanelStatus

RESERVED_SCHEMAS = {"public", "information_schema"}


def template_schema() -> str:
    return settings.TENANT_BASE_SCHEMA


def template_migrate(*, verbosity: int = 0) -> None:
    """Create the template schema if it is missing and apply every migration to it."""
    template = template_schema()
    connection.set_schema_to_public()
    if not schema_exists(template):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{template}"')
    call_command("migrate_schemas", schema_name=template, interactive=False, verbosity=verbosity)
    connection.set_schema_to_public()


def _check_schema_name(schema_name: str) -> None:
    reserved = schema_name in RESERVED_SCHEMAS | {template_schema()} or schema_name.startswith("pg_")
    if reserved or not re.fullmatch(SCHEMA_NAME_RE, schema_name):
        raise ValidationError(
            f"{schema_name!r} cannot name a panel: use 2 to 41 lower-case letters, digits and _, "
            "starting with a letter."
        )


@dataclass(frozen=True)
class Created:
    panel: Panel
    seconds: float


def panel_create(
    *,
    name: str,
    schema_name: str,
    domain: str,
    staff_username: str,
    staff_email: str,
    staff_password: str | None,
    owner_id: int | None = None,
) -> Created:
    """Create a child panel: its schema (a copy of the template), its domain and its first staff
    user. Not inside a transaction: the schema is copied by DDL and must exist when this returns.
    If anything fails the half-made panel is removed again, schema and all."""
    started = time.monotonic()
    _check_schema_name(schema_name)
    if connection.in_atomic_block:
        raise RuntimeError("panel_create runs outside transactions (it copies a schema).")
    if Domain.objects.filter(domain=domain.strip().rstrip(".").lower()).exists():
        raise ValidationError(f"The domain {domain} already serves a panel.")
    connection.set_schema_to_public()
    if not schema_exists(template_schema()):
        template_migrate()
    panel = Panel(schema_name=schema_name, name=name, owner_id=owner_id, status=PanelStatus.ACTIVE)
    panel.save(verbosity=0)  # copies the template (django-tenants: TENANT_BASE_SCHEMA)
    try:
        with transaction.atomic():
            Domain.objects.create(domain=domain, tenant=panel, is_primary=True)
        with schema_context(schema_name):
            User = get_user_model()
            User.objects.create_superuser(username=staff_username, email=staff_email, password=staff_password)
    except Exception:
        connection.set_schema_to_public()
        panel.delete(force_drop=True)
        raise
    return Created(panel=panel, seconds=time.monotonic() - started)


def active_schemas() -> list[str]:
    """The parent and every active child, for work that runs once per panel (beat)."""
    with schema_context(get_public_schema_name()):
        children = list(
            Panel.objects.filter(status=PanelStatus.ACTIVE).order_by("pk").values_list("schema_name", flat=True)
        )
    return [get_public_schema_name(), *children]
