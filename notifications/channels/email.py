"""Email: one message per customer event (HTML and plain text), one digest for staff alerts.

SMTP comes from the EMAIL_* settings (environment); `make run` uses the console backend. A
customer's email, subject included, is written in their language (`customer_language`: the one
they chose, else the one they last saved their notification settings in, else the panel's), and
carries a signed one-click unsubscribe link for its kind of event (no login needed), also in the
List-Unsubscribe and List-Unsubscribe-Post headers (RFC 8058) that mail clients show as a button.
The staff digest goes to each address in the language of the staff member who has it.
"""

import smtplib
from collections import defaultdict

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import ngettext

from accounts.models import User
from panel.i18n import language_valid
from panel.tenancy import panel_url
from site_pages.selectors import brand

from ..kinds import KINDS
from ..models import CustomerSettings, Delivery, Event
from ..selectors import preference_enabled
from . import Outcome

UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def unsubscribe_token(*, user_id: int, kind: str) -> str:
    return signing.dumps({"u": user_id, "k": kind}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_read(token: str) -> tuple[int, str] | None:
    """The (user ID, kind) a token was made for, or None if it was not made by us."""
    try:
        value = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("u"), int) or value.get("k") not in KINDS:
        return None
    return value["u"], value["k"]


def absolute(path: str) -> str:
    return panel_url() + path


def _send(message: EmailMultiAlternatives) -> Outcome:
    try:
        with get_connection(fail_silently=False) as connection:
            connection.send_messages([message])
    except smtplib.SMTPResponseException as exc:
        # 5xx: the server refuses for good (bad address); 4xx: try again later.
        return Outcome(False, f"The mail server answered {exc.smtp_code}.", retry=exc.smtp_code < 500)
    except smtplib.SMTPRecipientsRefused:
        return Outcome(False, "The mail server refused the address.", retry=False)
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        return Outcome(False, f"Could not reach the mail server ({type(exc).__name__}).")
    return Outcome(True)


def email_context(event: Event, user) -> dict:
    unsubscribe = reverse(
        "dashboard:notifications_unsubscribe", args=[unsubscribe_token(user_id=user.pk, kind=event.kind)]
    )
    return {
        "event": event,
        "data": event.data,
        "user": user,
        "kind": KINDS[event.kind],
        "panel_name": brand().name,
        "panel_url": panel_url(),
        "preferences_url": absolute(reverse("dashboard:notifications")),
        "unsubscribe_url": absolute(unsubscribe),
    }


def customer_language(user) -> str:
    """The language to write to a customer in: the one they chose on their account, else the one
    they last saved their notification settings in, else the panel's."""
    chosen = language_valid(getattr(user, "language", ""))
    if chosen:
        return chosen
    row = CustomerSettings.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    return language_valid(row) or settings.LANGUAGE_CODE


def customer_message(event: Event, user) -> EmailMultiAlternatives:
    with translation.override(customer_language(user)):
        context = email_context(event, user)
        name = event.kind.replace(".", "_")
        subject = " ".join(render_to_string(f"email/{name}_subject.txt", context).split())
        text = render_to_string(f"email/{name}.txt", context)
        html = render_to_string(f"email/{name}.html", context)
    unsubscribe_url = context["unsubscribe_url"]
    message = EmailMultiAlternatives(
        subject=f"{brand().name}: {subject}",
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Panel-Event-ID": event.public_id,
        },
    )
    message.attach_alternative(html, "text/html")
    return message


class EmailChannel:
    def notify(self, delivery: Delivery) -> Outcome:
        user = delivery.user
        if user is None or not user.email:
            return Outcome(False, "The customer has no email address.", retry=False)
        if not preference_enabled(user_id=user.pk, kind=delivery.event.kind, channel=Delivery.Channel.EMAIL):
            return Outcome(False, "The customer unsubscribed from these emails.", retry=False, canceled=True)
        return _send(customer_message(delivery.event, user))


def staff_languages(addresses: list[str]) -> dict[str, list[str]]:
    """The staff list grouped by language: an address a staff account has gets that account's
    language, any other address the panel's."""
    chosen: dict[str, str] = {}
    accounts = User.objects.filter(is_staff=True, is_active=True).exclude(email="").order_by("pk")
    for email, language in accounts.values_list("email", "language"):
        chosen.setdefault(email.lower(), language_valid(language) or settings.LANGUAGE_CODE)
    groups: dict[str, list[str]] = defaultdict(list)
    for address in addresses:
        groups[chosen.get(address.lower(), settings.LANGUAGE_CODE)].append(address)
    return dict(groups)


def staff_message(events: list[Event], to: list[str]) -> EmailMultiAlternatives:
    """The digest email, in the active language."""
    context = {
        "events": [(event, KINDS.get(event.kind)) for event in events],
        "panel_name": brand().name,
        "panel_url": panel_url(),
    }
    text = render_to_string("email/staff_digest.txt", context)
    html = render_to_string("email/staff_digest.html", context)
    count = len(events)
    alerts = ngettext("%(n)s staff alert", "%(n)s staff alerts", count) % {"n": count}
    message = EmailMultiAlternatives(
        subject=f"{brand().name}: {alerts}", body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to
    )
    message.attach_alternative(html, "text/html")
    return message


def staff_digest(events: list[Event]) -> Outcome:
    """One email with every alert since the last digest to the staff list: one copy per language
    the list's staff read (usually one). If one copy fails the digest is tried again whole, so
    a reader of another language may get it twice: better than not at all."""
    outcome = Outcome(True)
    for language, addresses in staff_languages(list(settings.NOTIFY_STAFF_EMAILS)).items():
        with translation.override(language):
            message = staff_message(events, addresses)
        sent = _send(message)
        if not sent.ok and outcome.ok:
            outcome = sent
    return outcome
