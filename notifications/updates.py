"""The updates feed: what changed in the catalog, found by comparing it with what the last scan saw.

One scan (beat, every few minutes) covers every way the catalog changes (sync, staff edits, the
Admin API) without a hook in each. A service is "new" the first time it is seen sellable (the
very first scan only records the catalog as it is), "disabled" when it stops being sellable,
"back" when it is sellable again, "price up/down" when its rate moves. Staff choose which kinds
are published as found (UpdatesSettings) and publish the others one by one; publishing raises a
"catalog.update" webhook event for every endpoint that takes it. Customers who ask for it get a
daily email digest of what was published.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone, translation

from catalog.models import Service
from panel.events import DomainEvent, emit
from panel.tenancy import panel_currency

from .models import CatalogUpdate, CustomerSettings, Preference, ServiceState, UpdatesSettings, WebhookEndpoint

logger = logging.getLogger(__name__)

DIGEST_LIMIT = 100


def english_label(update: CatalogUpdate) -> str:
    """The update's kind as English words, for data that is stored or leaves the panel."""
    with translation.override("en"):
        return str(update.get_kind_display())


def _announce(updates: list[CatalogUpdate]) -> None:
    """Webhook events for published updates, one per endpoint that takes "catalog.update"."""
    if not updates:
        return
    users = [
        user_id
        for user_id, kinds in WebhookEndpoint.objects.filter(enabled=True).values_list("user_id", "kinds")
        if not kinds or "catalog.update" in kinds
    ]
    if not users:
        return
    names = dict(Service.objects.filter(pk__in={u.service_id for u in updates}).values_list("pk", "name"))
    emit(
        *(
            DomainEvent(
                kind="catalog.update",
                key=f"catalog-update:{update.pk}:{user_id}",
                user_id=user_id,
                data={
                    "update": update.pk,
                    "service": update.service_id,
                    "name": names.get(update.service_id, ""),
                    "change": update.kind,
                    "old_rate": update.old_rate,
                    "new_rate": update.new_rate,
                    "currency": panel_currency(),
                },
            )
            for update in updates
            for user_id in users
        )
    )


def catalog_scan() -> list[CatalogUpdate]:
    """Record what changed since the last scan. Safe to run twice at once: the settings row's
    lock makes the second wait, and it then finds nothing new."""
    with transaction.atomic():
        config = UpdatesSettings.objects.select_for_update().filter(pk=1).first()
        if config is None:
            UpdatesSettings.objects.bulk_create([UpdatesSettings(pk=1)], ignore_conflicts=True)
            config = UpdatesSettings.objects.select_for_update().get(pk=1)
        states = {state.service_id: state for state in ServiceState.objects.all()}
        first_scan = not states
        sellable = set(Service.objects.sellable().values_list("pk", flat=True))
        updates: list[CatalogUpdate] = []
        created: list[ServiceState] = []
        changed: list[ServiceState] = []
        for service_id, rate in Service.objects.order_by("pk").values_list("pk", "rate"):
            now_sellable = service_id in sellable
            state = states.get(service_id)
            if state is None:
                created.append(ServiceState(service_id=service_id, rate=rate, sellable=now_sellable))
                if now_sellable and not first_scan:
                    updates.append(CatalogUpdate(service_id=service_id, kind=CatalogUpdate.Kind.NEW, new_rate=rate))
                continue
            if state.sellable and not now_sellable:
                updates.append(
                    CatalogUpdate(service_id=service_id, kind=CatalogUpdate.Kind.DISABLED, old_rate=state.rate)
                )
            elif now_sellable and not state.sellable:
                updates.append(
                    CatalogUpdate(
                        service_id=service_id, kind=CatalogUpdate.Kind.BACK, old_rate=state.rate, new_rate=rate
                    )
                )
            elif now_sellable and rate != state.rate:
                kind = CatalogUpdate.Kind.PRICE_UP if rate > state.rate else CatalogUpdate.Kind.PRICE_DOWN
                updates.append(CatalogUpdate(service_id=service_id, kind=kind, old_rate=state.rate, new_rate=rate))
            if (state.rate, state.sellable) != (rate, now_sellable):
                state.rate, state.sellable = rate, now_sellable
                changed.append(state)
        ServiceState.objects.bulk_create(created, batch_size=500)
        ServiceState.objects.bulk_update(changed, ["rate", "sellable", "seen_at"], batch_size=500)
        now = timezone.now()
        for update in updates:
            if config.publishes(update.kind):
                update.published_at = now
        CatalogUpdate.objects.bulk_create(updates, batch_size=500)
        _announce([update for update in updates if update.published_at])
    if updates:
        logger.info("catalog scan: %d change(s)", len(updates))
    return updates


def updates_publish(*, update_ids: list[int]) -> int:
    """Publish updates staff chose (each once). Returns how many were published now."""
    with transaction.atomic():
        rows = list(CatalogUpdate.objects.select_for_update().filter(pk__in=update_ids, published_at__isnull=True))
        CatalogUpdate.objects.filter(pk__in=[row.pk for row in rows]).update(published_at=timezone.now())
        _announce(rows)
    return len(rows)


def updates_digest_send() -> int:
    """Beat (daily): a "catalog.digest" email event for each customer who asked for it and has
    published updates since their last digest. Returns how many digests were raised."""
    now = timezone.now()
    users = Preference.objects.filter(kind="catalog.digest", channel="email", enabled=True).values_list(
        "user_id", flat=True
    )
    raised = 0
    for user_id in users:
        with transaction.atomic():
            row, _ = CustomerSettings.objects.select_for_update().get_or_create(user_id=user_id)
            since = row.updates_digest_at or (now - timedelta(days=1))
            updates = list(
                CatalogUpdate.objects.filter(published_at__gt=since, published_at__lte=now)
                .select_related("service")
                .order_by("published_at")[:DIGEST_LIMIT]
            )
            row.updates_digest_at = now
            row.save(update_fields=["updates_digest_at"])
            if not updates:
                continue
            emit(
                DomainEvent(
                    kind="catalog.digest",
                    key=f"catalog-digest:{user_id}:{now:%Y-%m-%dT%H:%M}",
                    user_id=user_id,
                    data={
                        "updates": [
                            {
                                "service": update.service_id,
                                "name": update.service.name,
                                # The English label (event data is stored and sent to webhooks);
                                # `kind` lets the email show it translated.
                                "change": english_label(update),
                                "kind": update.kind,
                                "old_rate": update.old_rate,
                                "new_rate": update.new_rate,
                            }
                            for update in updates
                        ],
                        "currency": panel_currency(),
                    },
                )
            )
            raised += 1
    return raised
