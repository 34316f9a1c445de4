"""The two child panels and helpers of the tenants tests, and the backoffice's staff fixtures, for
the child-panel business tests."""

from backoffice.tests.conftest import admin_staff, support_staff  # noqa: F401
from tenants.tests.conftest import _child_schemas, children, in_schema, make_customer  # noqa: F401
