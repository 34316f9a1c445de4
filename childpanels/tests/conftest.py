"""The two child panels and helpers of the tenants tests, for the child-panel business tests."""

from tenants.tests.conftest import _child_schemas, children, in_schema, make_customer  # noqa: F401
