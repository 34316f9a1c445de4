from .selectors import brand


def branding(request):
    """The staff-set branding for every template; PANEL_NAME follows it so existing templates
    (the dashboard, allauth's pages) show the panel's chosen name."""
    value = brand()
    return {"BRAND": value, "PANEL_NAME": value.name}
