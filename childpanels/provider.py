"""The parent panel as a child panel's provider: the parent's own API v2, over loopback.

A child panel's only provider is the parent's downstream API (settings.CHILD_PARENT_API_URL),
called by the child's ordinary upstream client with an API key of the panel's owner on the
parent. The parent's API is already the exactly-once boundary (it honours and advertises
idempotency keys), already charges the owner, refuses for want of funds in the protocol's words
and answers status, refill and cancel; the child keeps the order engine it has (forwarding,
resends with the same key, polling, settling, refunds). Nothing new enters the money path.

`provider_wire` sets that up and can be run again at any time (helper tasks, the `wire_child`
command, staff): one key per panel on the parent, one parent provider in the child's schema,
the parent's services imported into the child's catalogue. `provider_unwire` revokes the key
when the panel is deleted.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction

from accounts.models import User
from accounts.services import panel_api_key_issue, panel_api_key_matches, panel_api_key_revoke
from catalog.models import ProviderImport, SyncRun
from catalog.sync import sync_provider_unless_running
from currencies.selectors import rates_in_use
from upstream.models import Provider

# The registry of panels (tenants) and django-tenants are imported where they are used:
# django-allauth imports every installed app's `provider` module at start to look for login
# providers, on the single-panel SQLite demo too, where neither is installed.

logger = logging.getLogger(__name__)


class WireError(Exception):
    """The panel cannot be wired to the parent (say why to staff; nothing was changed)."""


@dataclass(frozen=True)
class Wired:
    provider_id: int  # the parent provider, in the child's schema
    key_issued: bool  # a new key was issued on the parent (the first wiring, or a repair)
    sync: SyncRun | None  # the catalogue import (None: another sync of it was running)


def _parent_rate(currency: str) -> Decimal:
    """Units of the child's currency for one unit of the parent's: what the child's catalogue
    multiplies the parent's prices by (Provider.exchange_rate)."""
    if currency == settings.PANEL_CURRENCY:
        return Decimal("1")
    found = rates_in_use([currency]).get(currency)
    if found is None:
        raise WireError(
            f"No exchange rate from {settings.PANEL_CURRENCY} to {currency}: add one under Currencies first."
        )
    return found.rate


def parent_provider() -> Provider | None:
    """The current (child) panel's parent provider, if it is wired."""
    return Provider.objects.filter(is_parent=True).first()


def provider_wire(*, panel_id: int, sync: bool = True) -> Wired:
    """Make the parent panel the child panel's provider, idempotently.

    On the parent: an API key of the panel's owner for this panel (kept when the child's
    provider still holds it, issued again otherwise). In the child's schema: the provider
    "<parent name>" at CHILD_PARENT_API_URL with that key, in the parent's currency at the rate
    to the child's, trusted to honour idempotency keys, marked as the parent; its catalogue
    import on. Then (`sync`) the parent's services are imported, outside any transaction (it
    calls the parent's API). Two wirings of one panel take turns on the panel's row.
    """
    from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

    from tenants.models import Panel, PanelStatus

    if connection.in_atomic_block:
        raise RuntimeError("provider_wire calls the parent's API: run it outside transactions.")
    public = get_public_schema_name()
    with schema_context(public):
        panel = Panel.objects.filter(pk=panel_id).first()
        # A pending panel is wired by its build, once its schema is made.
        if panel is None or panel.status == PanelStatus.DELETED or not schema_exists(panel.schema_name):
            raise WireError(f"Panel {panel_id} has no schema to wire (missing, not built yet or deleted).")
        if panel.owner_id is None or not User.objects.filter(pk=panel.owner_id, is_active=True).exists():
            raise WireError(f"Panel {panel.schema_name} has no active owner on the parent to order as.")
        rate = _parent_rate(panel.currency)
        schema = panel.schema_name

    # The key row (parent's schema) and the provider (child's) commit together: the child never
    # holds a key the parent does not know, whatever fails in between.
    with schema_context(public), transaction.atomic():
        Panel.objects.select_for_update().filter(pk=panel_id).values_list("pk", flat=True).get()
        with schema_context(schema):
            provider = parent_provider()
            held = provider.api_key if provider is not None else ""
        key_issued = not (held and panel_api_key_matches(panel_schema=schema, raw_key=held))
        raw_key = panel_api_key_issue(user_id=panel.owner_id, panel_schema=schema) if key_issued else held
        with schema_context(schema):
            provider = _provider_save(provider, raw_key=raw_key, rate=rate)
            ProviderImport.objects.get_or_create(provider=provider, defaults={"auto_import": True})
    logger.info("child panel %s: wired to the parent (provider %s, new key: %s)", schema, provider.pk, key_issued)

    run = None
    if sync:
        with schema_context(schema):
            run = sync_provider_unless_running(provider_id=provider.pk, import_existing=True)
        if run is not None and not run.ok:
            logger.warning("child panel %s: importing the parent's services failed: %s", schema, run.error)
    return Wired(provider_id=provider.pk, key_issued=key_issued, sync=run)


def _provider_save(provider: Provider | None, *, raw_key: str, rate: Decimal) -> Provider:
    values = {
        "name": settings.PANEL_NAME[:100],
        "api_url": settings.CHILD_PARENT_API_URL,
        "api_key": raw_key,
        "currency": settings.PANEL_CURRENCY,
        "exchange_rate": rate,
        "enabled": True,
        "send_idempotency_key": True,
        # Our own API: it answers a repeated key with the order it has (README, Idempotency),
        # so an `add` whose answer was lost is sent again safely, without waiting for staff.
        "honours_idempotency_keys": True,
        "is_parent": True,
    }
    if provider is None:
        provider = Provider(**values)
    else:
        changed = [name for name, value in values.items() if getattr(provider, name) != value]
        if not changed:
            return provider
        for name in changed:
            setattr(provider, name, values[name])
    provider.save()
    return provider


def provider_unwire(*, panel_id: int) -> bool:
    """Revoke the panel's key on the parent (the panel is being deleted): from then on the
    parent refuses the child's calls. True when there was a key. The child's schema is left as
    it is (it is exported, then dropped, by the deletion itself)."""
    from django_tenants.utils import get_public_schema_name, schema_context

    from tenants.models import Panel

    with schema_context(get_public_schema_name()):
        schema = Panel.objects.filter(pk=panel_id).values_list("schema_name", flat=True).first()
        if schema is None:
            return False
        revoked = panel_api_key_revoke(panel_schema=schema)
    if revoked:
        logger.info("child panel %s: its key on the parent is revoked", schema)
    return revoked
