"""The sidebar's "Child panel" link: on the parent of an install with schemas, while child panels
are sold or to a customer who owns one."""

from django import template
from django.conf import settings

from panel.tenancy import is_child

register = template.Library()


@register.simple_tag(takes_context=True)
def child_panels_link(context) -> bool:
    user = getattr(context.get("request"), "user", None)
    if not settings.TENANCY or is_child() or user is None or not user.is_authenticated:
        return False
    # Imported here: without PostgreSQL the registry of panels is not installed.
    from tenants.models import ChildPanelPlan, Panel

    return ChildPanelPlan.objects.filter(selling=True).exists() or Panel.objects.filter(owner_id=user.pk).exists()
