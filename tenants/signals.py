"""Any change to the registry of panels makes the cached host and schema lookups stale."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from .lookup import registry_changed
from .models import Domain, Panel


def _changed(sender, **kwargs) -> None:
    # Now, so the rest of this transaction and this process read the change; and again after the
    # commit, because a request that read the registry before the commit may have cached the old
    # row under the token replaced first.
    registry_changed()
    transaction.on_commit(registry_changed)


def connect() -> None:
    for model in (Panel, Domain):
        post_save.connect(_changed, sender=model, dispatch_uid=f"tenants.registry.save.{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"tenants.registry.delete.{model.__name__}")
