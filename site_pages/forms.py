"""allauth's sign-up and login forms, with a captcha when PANEL_CAPTCHA is on (off by default).

The captcha is django-simple-captcha: drawn and checked by the panel itself, so no third-party
script (which the Content-Security-Policy would have to allow) and no call to an outside
verify endpoint on every sign-in; each challenge is good for one answer only.
"""

from allauth.account.forms import LoginForm, SignupForm
from captcha.fields import CaptchaField
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class _Captcha:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if settings.PANEL_CAPTCHA:
            self.fields["captcha"] = CaptchaField(
                label=_("Type the characters in the picture"),
                error_messages={"invalid": _("The characters do not match the picture; try the new one.")},
            )


class PanelSignupForm(_Captcha, SignupForm):
    pass


class PanelLoginForm(_Captcha, LoginForm):
    pass
