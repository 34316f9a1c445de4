"""{% load branding %}{% brand as b %}: the branding where no request context runs (emails)."""

from django import template

from ..selectors import brand as brand_value

register = template.Library()


@register.simple_tag
def brand():
    return brand_value()
