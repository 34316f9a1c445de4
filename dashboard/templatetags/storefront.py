"""Template helpers of the storefront pages: durations as people read them."""

from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration(value) -> str:
    """'2 h 15 min', '3 d 4 h', '45 min', '< 1 min'; empty for None."""
    if not isinstance(value, timedelta):
        return ""
    seconds = int(value.total_seconds())
    if seconds < 60:
        return _("< 1 min")
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(d)s d %(h)s h") % {"d": days, "h": hours} if hours else _("%(d)s d") % {"d": days}
    if hours:
        return _("%(h)s h %(m)s min") % {"h": hours, "m": minutes} if minutes else _("%(h)s h") % {"h": hours}
    return _("%(m)s min") % {"m": minutes}
