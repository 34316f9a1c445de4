"""Favourite services: a customer stars services to find them again quickly."""

from django.db import IntegrityError, transaction

from .models import FavouriteService, Service


def favourite_set(*, user_id: int, service_id: int, starred: bool) -> bool:
    """Star or unstar a service for a customer; returns whether it is starred now.

    Idempotent: starring twice (a double click, two tabs) keeps one row, the unique
    constraint decides between concurrent requests. Only a service customers may see can be
    starred (Service.DoesNotExist otherwise); unstarring works for any."""
    if not starred:
        FavouriteService.objects.filter(user_id=user_id, service_id=service_id).delete()
        return False
    if not Service.objects.sellable().filter(pk=service_id).exists():
        raise Service.DoesNotExist
    try:
        with transaction.atomic():
            FavouriteService.objects.get_or_create(user_id=user_id, service_id=service_id)
    except IntegrityError:
        pass  # the other request created it
    return True


def favourite_ids(user_id: int) -> set[int]:
    return set(FavouriteService.objects.filter(user_id=user_id).values_list("service_id", flat=True))
