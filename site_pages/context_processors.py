from .selectors import brand, brand_cached


def branding(request):
    """The staff-set branding for every template; PANEL_NAME follows it so existing templates
    (the dashboard, allauth's pages) show the panel's chosen name. In maintenance mode the
    branding comes from the cache only, never the database (the mode must hold when the database
    is the thing being worked on): without it in the cache, pages keep the PANEL_NAME setting."""
    value = brand_cached() if getattr(request, "maintenance", False) else brand()
    if value is None:
        return {}
    return {"BRAND": value, "PANEL_NAME": value.name}
