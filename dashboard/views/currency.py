"""Choosing the display currency: on the account page (saved on the account, and in a cookie so a
signed-out visit keeps it), or from a visitor's picker (the cookie alone).

Display only: the ledger, every charge and the API stay in the panel currency.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from currencies.display import babel_locale
from currencies.middleware import COOKIE
from currencies.selectors import display_choices
from panel.security import safe_next_url
from panel.tenancy import panel_currency

COOKIE_AGE = 365 * 24 * 3600


class CurrencyForm(forms.Form):
    currency = forms.ChoiceField(label=gettext_lazy("Display currency"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [
            (choice.code, choice.label) for choice in display_choices(locale=str(babel_locale()))
        ]


@require_POST
def set_currency(request):
    user = request.user
    fallback = reverse("dashboard:account") if user.is_authenticated else "/"
    target = safe_next_url(request, request.POST.get("next"), fallback)
    form = CurrencyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the currencies offered."))
        return HttpResponseRedirect(target)
    code = form.cleaned_data["currency"] or ""
    if user.is_authenticated and user.display_currency != code:
        user.display_currency = code
        user.save(update_fields=["display_currency"])
    if user.is_authenticated:
        messages.success(
            request,
            _("Amounts are now shown in %(currency)s.") % {"currency": code or panel_currency()},
        )
    # Not redirect(): a `next` of plain text would be looked up as a view name.
    response = HttpResponseRedirect(target)
    if code:
        response.set_cookie(
            COOKIE,
            code,
            max_age=COOKIE_AGE,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
        )
    else:
        response.delete_cookie(COOKIE, samesite="Lax")
    return response
