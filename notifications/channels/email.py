"""Email: one message per customer event (HTML and plain text), one digest for staff alerts.

SMTP comes from the EMAIL_* settings (environment); `make run` uses the console backend. A
customer's email is written in the language they last used the panel in (CustomerSettings), and
carries a signed one-click unsubscribe link for its kind of event (no login needed), also in the
List-Unsubscribe and List-Unsubscribe-Post headers (RFC 8058) that mail clients show as a button.
"""

import smtplib

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

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
    return settings.PANEL_URL.rstrip("/") + path


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
        "panel_name": settings.PANEL_NAME,
        "panel_url": settings.PANEL_URL.rstrip("/"),
        "preferences_url": absolute(reverse("dashboard:notifications")),
        "unsubscribe_url": absolute(unsubscribe),
    }


def customer_message(event: Event, user) -> EmailMultiAlternatives:
    row = CustomerSettings.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    with translation.override(row or settings.LANGUAGE_CODE):
        context = email_context(event, user)
        name = event.kind.replace(".", "_")
        subject = " ".join(render_to_string(f"email/{name}_subject.txt", context).split())
        text = render_to_string(f"email/{name}.txt", context)
        html = render_to_string(f"email/{name}.html", context)
    unsubscribe_url = context["unsubscribe_url"]
    message = EmailMultiAlternatives(
        subject=f"{settings.PANEL_NAME}: {subject}",
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


def staff_digest(events: list[Event]) -> Outcome:
    """One email to the staff list with every alert since the last digest."""
    context = {
        "events": [(event, KINDS.get(event.kind)) for event in events],
        "panel_name": settings.PANEL_NAME,
        "panel_url": settings.PANEL_URL.rstrip("/"),
    }
    text = render_to_string("email/staff_digest.txt", context)
    html = render_to_string("email/staff_digest.html", context)
    count = len(events)
    subject = f"{settings.PANEL_NAME}: {count} staff alert{'s' if count != 1 else ''}"
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=list(settings.NOTIFY_STAFF_EMAILS)
    )
    message.attach_alternative(html, "text/html")
    return _send(message)
