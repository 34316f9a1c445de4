from django import template

from ..announcements import announcements_for

register = template.Library()


@register.simple_tag
def customer_announcements(user) -> list:
    """The announcements this customer should see now (for the dashboard's include)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return announcements_for(user_id=user.pk)
