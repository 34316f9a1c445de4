"""Notification preferences, the one-click unsubscribe, and webhook settings with their log."""

from decimal import Decimal, InvalidOperation

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notifications import docs
from notifications.announcements import announcement_dismiss
from notifications.channels import telegram
from notifications.channels.email import unsubscribe_read
from notifications.kinds import KINDS, WEBHOOK_KINDS
from notifications.models import CatalogUpdate, Delivery, TelegramLink, WebhookEndpoint
from notifications.selectors import customer_settings, preferences_of, webhook_log
from notifications.services import (
    delivery_resend,
    preferences_save,
    telegram_link_start,
    telegram_unlink,
    unsubscribe,
    webhook_endpoint_delete,
    webhook_endpoint_save,
    webhook_secret_rotate,
    webhook_test_send,
)
from upstream.urlguard import UnsafeURL

from .common import customer_view, paginate, parse_id

MAX_THRESHOLD = Decimal("1000000000")
EMAIL = ("email", gettext_lazy("Email"))
TELEGRAM = ("telegram", gettext_lazy("Telegram"))


def _channels() -> tuple:
    # The Telegram column only once the owner has set up a bot.
    return (EMAIL, TELEGRAM) if telegram.bot() is not None else (EMAIL,)


def _threshold(raw: str) -> Decimal | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValidationError(_("Enter the threshold as a number such as 10 or 25.50.")) from None
    if not value.is_finite() or value < 0 or value > MAX_THRESHOLD:
        raise ValidationError(_("Enter a threshold between 0 and 1,000,000,000."))
    return value.quantize(settings.MONEY_PLACES)


def _preference_rows(user_id: int, channels: tuple, posted=None) -> list[dict]:
    """The table of choices: what is stored, or what was just posted (a form sent back with an error)."""
    current = preferences_of(user_id=user_id)
    if posted is not None:
        current = {key: f"pref:{key[0]}:{key[1]}" in posted for key in current}
    rows = []
    for spec in KINDS.values():
        cells = [
            {
                "channel": channel,
                "label": label,
                "name": f"pref:{spec.name}:{channel}",
                "checked": current[(spec.name, channel)],
            }
            if (spec.name, channel) in current
            else None
            for channel, label in channels
        ]
        if any(cells):
            rows.append({"kind": spec, "cells": cells})
    return rows


@customer_view
def notifications(request):
    """The customer's choices: which events reach them by which channel, and the low-balance line."""
    error = ""
    row = customer_settings(user_id=request.user.pk)
    threshold_text = "" if row.balance_threshold is None else f"{row.balance_threshold.normalize():f}"
    status = 200
    if request.method == "POST":
        threshold_text = request.POST.get("balance_threshold", "")[:40]
        try:
            threshold = _threshold(threshold_text)
        except ValidationError as exc:
            error = exc.messages[0]
            status = 400
        else:
            shown = {channel for channel, _label in _channels()}
            current = preferences_of(user_id=request.user.pk)
            choices = {key: f"pref:{key[0]}:{key[1]}" in request.POST for key in current if key[1] in shown}
            preferences_save(
                user_id=request.user.pk,
                choices=choices,
                balance_threshold=threshold,
                language=get_language() or "",
            )
            messages.success(request, _("Notification settings saved."))
            return redirect("dashboard:notifications")
    channels = _channels()
    context = {
        "rows": _preference_rows(request.user.pk, channels, request.POST if status == 400 else None),
        "channels": channels,
        "threshold": threshold_text,
        "threshold_error": error,
        **_telegram_context(request),
    }
    return render(request, "notifications/preferences.html", context, status=status)


def _telegram_context(request, code: str = "") -> dict:
    config = telegram.bot()
    if config is None:
        return {"telegram": None}
    link = TelegramLink.objects.filter(user=request.user).first()
    start = f"https://t.me/{config.username}?start={code}" if code and config.username else ""
    return {"telegram": config, "telegram_link": link, "telegram_code": code, "telegram_start": start}


@require_POST
@customer_view
def telegram_link(request):
    """A new one-time code, shown in this response only (only its hash is stored)."""
    if telegram.bot() is None:
        raise Http404
    code = telegram_link_start(user_id=request.user.pk)
    channels = _channels()
    context = {
        "rows": _preference_rows(request.user.pk, channels),
        "channels": channels,
        "threshold": "",
        "threshold_error": "",
        **_telegram_context(request, code),
    }
    row = customer_settings(user_id=request.user.pk)
    if row.balance_threshold is not None:
        context["threshold"] = f"{row.balance_threshold.normalize():f}"
    response = render(request, "notifications/preferences.html", context)
    response["Cache-Control"] = "no-store"
    return response


@customer_view
def telegram_status(request):
    """The Telegram card's state, which the page asks for every few seconds while a code waits."""
    return render(request, "notifications/partials/telegram_status.html", _telegram_context(request))


@require_POST
@customer_view
def telegram_unlink_view(request):
    telegram_unlink(user_id=request.user.pk)
    messages.success(request, _("Telegram unlinked."))
    return redirect("dashboard:notifications")


@csrf_exempt
def notifications_unsubscribe(request, token: str):
    """The link in every customer email: no login, the signed token names the customer and kind.

    GET shows a button (mail scanners follow links; they must not unsubscribe anyone); POST
    unsubscribes, which is also what mail clients send for List-Unsubscribe-Post (RFC 8058),
    without a CSRF token: the signed token is the proof.
    """
    found = unsubscribe_read(token[:1000])
    if found is None:
        raise Http404
    user_id, kind = found
    done = False
    if request.method == "POST":
        unsubscribe(user_id=user_id, kind=kind)
        done = True
    return render(request, "notifications/unsubscribe.html", {"kind": KINDS[kind], "done": done, "token": token})


# --- Webhooks --------------------------------------------------------------------------------


class WebhookForm(forms.Form):
    url = forms.CharField(label=gettext_lazy("Endpoint URL"), max_length=500)
    kinds = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(kind.name, kind.label) for kind in WEBHOOK_KINDS],
        help_text=gettext_lazy("None ticked: every event."),
    )
    enabled = forms.BooleanField(label=gettext_lazy("Send events"), required=False, initial=True)


def _webhooks_page(request, *, form=None, secret: str = "", status: int = 200):
    endpoint = WebhookEndpoint.objects.filter(user=request.user).first()
    if form is None:
        initial = {"enabled": True}
        if endpoint is not None:
            initial = {"url": endpoint.url, "kinds": endpoint.kinds, "enabled": endpoint.enabled}
        form = WebhookForm(initial=initial)
    context = {
        "form": form,
        "endpoint": endpoint,
        "secret": secret,
        "page": paginate(request, webhook_log(user_id=request.user.pk)),
        "kinds": WEBHOOK_KINDS,
        "retry_hours": settings.NOTIFY_RETRY_HOURS,
        "example_payload": docs.EXAMPLE_PAYLOAD,
        "data_fields": docs.DATA_FIELDS.items(),
        "python_snippet": docs.PYTHON_SNIPPET,
        "php_snippet": docs.PHP_SNIPPET,
        "library_snippet": docs.LIBRARY_SNIPPET,
    }
    response = render(request, "notifications/webhooks.html", context, status=status)
    if secret:
        response["Cache-Control"] = "no-store"
    return response


@customer_view
def webhooks(request):
    return _webhooks_page(request)


@require_POST
@customer_view
def webhooks_save(request):
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return _webhooks_page(request, form=form, status=400)
    try:
        _endpoint, secret = webhook_endpoint_save(
            user_id=request.user.pk,
            url=form.cleaned_data["url"],
            kinds=form.cleaned_data["kinds"],
            enabled=form.cleaned_data["enabled"],
        )
    except UnsafeURL as exc:
        form.add_error("url", exc.translated())
        return _webhooks_page(request, form=form, status=400)
    messages.success(request, _("Webhook endpoint saved."))
    if secret:
        return _webhooks_page(request, secret=secret)
    return redirect("dashboard:webhooks")


@require_POST
@customer_view
def webhooks_rotate(request):
    if not WebhookEndpoint.objects.filter(user=request.user).exists():
        return redirect("dashboard:webhooks")
    secret = webhook_secret_rotate(user_id=request.user.pk)
    messages.success(request, _("New signing secret made. The old one no longer signs anything."))
    return _webhooks_page(request, secret=secret)


@require_POST
@customer_view
def webhooks_delete(request):
    webhook_endpoint_delete(user_id=request.user.pk)
    messages.success(request, _("Webhook endpoint removed."))
    return redirect("dashboard:webhooks")


# Test events and "send again" make the panel POST to the customer's URL: a few seconds apart.
SEND_PAUSE_SECONDS = 3


def _too_soon(request, action: str) -> bool:
    if cache.add(f"webhook-{action}:{request.user.pk}", 1, timeout=SEND_PAUSE_SECONDS):
        return False
    messages.error(request, _("One moment: wait a few seconds between sends."))
    return True


@require_POST
@customer_view
def webhooks_test(request):
    endpoint = WebhookEndpoint.objects.filter(user=request.user).first()
    if endpoint is None or not endpoint.enabled:
        messages.error(request, _("Set an endpoint URL and turn sending on first."))
        return redirect("dashboard:webhooks")
    if _too_soon(request, "test"):
        return redirect("dashboard:webhooks")
    webhook_test_send(user_id=request.user.pk)
    messages.success(request, _("Test event sent. Its delivery is at the top of the log."))
    return redirect("dashboard:webhooks")


@require_POST
@customer_view
def webhooks_resend(request, pk: int):
    if parse_id(pk) is None:
        raise Http404
    if _too_soon(request, "resend"):
        return redirect("dashboard:webhooks")
    try:
        delivery_resend(delivery_id=pk, user_id=request.user.pk)
    except Delivery.DoesNotExist:
        raise Http404 from None
    messages.success(request, _("Sent again. The new delivery is at the top of the log."))
    return redirect("dashboard:webhooks")


# --- Updates feed and announcements -----------------------------------------------------------


@customer_view
def updates(request):
    """What changed in the catalog, as staff published it."""
    kind = request.GET.get("kind", "")
    rows = (
        CatalogUpdate.objects.filter(published_at__isnull=False)
        .select_related("service")
        .order_by("-published_at", "-id")
    )
    if kind in CatalogUpdate.Kind.values:
        rows = rows.filter(kind=kind)
    else:
        kind = ""
    context = {"page": paginate(request, rows), "kinds": CatalogUpdate.Kind.choices, "kind": kind}
    return render(request, "notifications/updates.html", context)


@require_POST
@customer_view
def announcement_dismiss_view(request, pk: int):
    announcement_dismiss(user_id=request.user.pk, announcement_id=pk)
    if request.htmx:
        return HttpResponse("")
    return redirect("dashboard:home")
