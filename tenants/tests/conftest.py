"""Two child panels beside the parent, for the isolation tests.

Their schemas are made once per test process (a copy of the template, as in production) and kept;
their rows in the parent's registry are put back before each test, since transactional tests
elsewhere empty the parent's tables. Each test leaves the connection on the parent's schema.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from tenants.lookup import registry_changed
from tenants.models import Domain, Panel, PanelStatus
from tenants.services import panel_create

CHILDREN = {
    "child_a": "a.panels.test",
    "child_b": "b.panels.test",
}
PARENT_HOST = "testserver"
STAFF_PASSWORD = "child-staff-Secret-123"


@pytest.fixture(scope="session")
def _child_schemas(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        for schema, domain in CHILDREN.items():
            # A schema kept from before (--reuse-db) only needs its rows, which `children` restores.
            if not schema_exists(schema):
                panel_create(
                    name=schema.replace("_", " ").title(),
                    schema_name=schema,
                    domain=domain,
                    staff_username=f"{schema}_staff",
                    staff_email=f"staff@{domain}",
                    staff_password=STAFF_PASSWORD,
                )
        connection.set_schema_to_public()


@pytest.fixture
def children(_child_schemas, db, settings, plain_static_storage):
    """{schema: Panel} for child_a and child_b; their host names are allowed, pages render without collectstatic."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, ".panels.test"]
    # CHILD_PANELS=true: host names route to panels (clients made after this see the middleware).
    settings.CHILD_PANELS = True
    settings.MIDDLEWARE = ["tenants.middleware.PanelMiddleware", *settings.MIDDLEWARE]
    connection.set_schema_to_public()
    # The registry's cached lookups outlive a test's rolled-back changes to its rows: start fresh.
    registry_changed()
    panels = {}
    for schema, domain in CHILDREN.items():
        # The schema survives a flush of the parent's tables; its registry rows may not.
        panel = Panel.objects.filter(schema_name=schema).first()
        if panel is None:
            panel = Panel(schema_name=schema, name=schema, status=PanelStatus.ACTIVE)
            panel.save(verbosity=0)  # the schema exists: nothing is copied
        Domain.objects.get_or_create(domain=domain, defaults={"tenant": panel, "is_primary": True})
        panels[schema] = panel
    yield panels
    connection.set_schema_to_public()


@pytest.fixture
def in_schema():
    """in_schema(schema) -> context manager that works in that panel's schema."""
    return schema_context


@pytest.fixture
def make_customer():
    """make_customer(username, balance) -> a customer of the current panel, with funds and an API key."""
    from accounts.ledger import ledger_credit
    from accounts.models import User
    from accounts.services import api_key_rotate

    def make(username: str, balance: str = "100") -> tuple[User, str]:
        user = User.objects.create(username=username, email=f"{username}@example.com")
        user.set_password("customer-Secret-123")
        user.save()
        ledger_credit(user_id=user.pk, amount=Decimal(balance), memo="test funds")
        return user, api_key_rotate(user=user)

    return make
