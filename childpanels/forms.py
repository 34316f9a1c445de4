"""The customer's order form for a child panel (the dashboard shows it; childpanels.billing buys)."""

from types import SimpleNamespace

from django import forms
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import password_validators_help_text_html, validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from currencies.selectors import display_choices

from .billing import BuyError, domain_clean


def currency_choices() -> list[tuple[str, str]]:
    """The panel currency first, then each currency customers may pick on this panel."""
    return [(choice.code or settings.PANEL_CURRENCY, choice.label) for choice in display_choices()]


class ChildPanelForm(forms.Form):
    name = forms.CharField(label=_("Panel name"), max_length=100, help_text=_("Shown on your panel's pages."))
    domain = forms.CharField(label=_("Domain"), max_length=253)
    currency = forms.ChoiceField(label=_("Currency of your panel"))
    staff_username = forms.CharField(
        label=_("Your staff user name"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("You sign in to your panel's backoffice with it."),
    )
    staff_email = forms.EmailField(label=_("Staff email"), required=False)
    password = forms.CharField(label=_("Staff password"), strip=False, widget=forms.PasswordInput)
    password_again = forms.CharField(label=_("Staff password again"), strip=False, widget=forms.PasswordInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = currency_choices()
        self.fields["currency"].initial = settings.PANEL_CURRENCY
        self.fields["password"].help_text = password_validators_help_text_html()
        base = settings.CHILD_PANEL_DOMAIN
        if base:
            self.fields["domain"].help_text = _(
                "A name such as “acme” gives you acme.%(base)s. Or type your own domain and point it at us."
            ) % {"base": base}
        else:
            self.fields["domain"].help_text = _("Your own domain, such as panel.example.com, pointed at us.")
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("autocomplete", "new-password" if "password" in name else "off")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError(_("Give your panel a name."))
        return name

    def clean_domain(self):
        try:
            return domain_clean(self.cleaned_data["domain"])
        except BuyError as exc:
            raise ValidationError(exc.message) from None

    def clean(self):
        data = super().clean()
        password = data.get("password")
        if password and data.get("password_again") != password:
            self.add_error("password_again", _("The two passwords differ."))
        elif password:
            try:
                # Compared with the user name and email, as Django's own sign-up does.
                validate_password(
                    password,
                    SimpleNamespace(username=data.get("staff_username", ""), email=data.get("staff_email", "")),
                )
            except ValidationError as exc:
                self.add_error("password", exc)
        return data

    def password_hash(self) -> str:
        # Only the hash leaves this form: the plain password never reaches a task or the broker.
        return make_password(self.cleaned_data["password"])
