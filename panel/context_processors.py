from django.conf import settings

from panel.tenancy import panel_currency


def panel(request):
    return {"PANEL_NAME": settings.PANEL_NAME, "PANEL_CURRENCY": panel_currency()}
