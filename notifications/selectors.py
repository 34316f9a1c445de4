"""Reads: what a customer chose, their delivery log, their settings."""

from django.db.models import QuerySet

from .kinds import KINDS
from .models import CustomerSettings, Delivery, Preference


def preference_enabled(*, user_id: int, kind: str, channel: str) -> bool:
    row = Preference.objects.filter(user_id=user_id, kind=kind, channel=channel).values_list("enabled").first()
    if row is not None:
        return row[0]
    spec = KINDS.get(kind)
    if spec is None:
        return False
    if channel == Delivery.Channel.EMAIL:
        return spec.email and spec.email_default
    if channel == Delivery.Channel.TELEGRAM:
        return spec.telegram and spec.telegram_default
    return False


def preferences_of(*, user_id: int) -> dict[tuple[str, str], bool]:
    """Every (kind, channel) a customer can choose, with what applies now."""
    chosen = {(p.kind, p.channel): p.enabled for p in Preference.objects.filter(user_id=user_id)}
    result = {}
    for spec in KINDS.values():
        if spec.email:
            result[(spec.name, "email")] = chosen.get((spec.name, "email"), spec.email_default)
        if spec.telegram:
            result[(spec.name, "telegram")] = chosen.get((spec.name, "telegram"), spec.telegram_default)
    return result


def customer_settings(*, user_id: int) -> CustomerSettings:
    return CustomerSettings.objects.filter(user_id=user_id).first() or CustomerSettings(user_id=user_id)


def webhook_log(*, user_id: int) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(user_id=user_id, channel=Delivery.Channel.WEBHOOK)
        .select_related("event")
        .order_by("-id")
    )
