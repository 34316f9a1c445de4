from panel.tenancy import panel_currency, panel_name


def panel(request):
    return {"PANEL_NAME": panel_name(), "PANEL_CURRENCY": panel_currency()}
