"""Announcements staff post for customers: shown on the dashboard, sticky ones first and for good,
the others until the customer dismisses them; optionally only for chosen customers."""

from django.db.models import Q
from django.utils import timezone

from .models import Announcement, AnnouncementDismissal


def announcements_for(*, user_id: int) -> list[Announcement]:
    now = timezone.now()
    rows = (
        Announcement.objects.filter(active=True)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now), Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .filter(Q(audience=None) | Q(audience=user_id))
        .exclude(Q(sticky=False) & Q(dismissals__user_id=user_id))
        .distinct()
        .order_by("-sticky", "-id")
    )
    return list(rows[:10])


def announcement_dismiss(*, user_id: int, announcement_id: int) -> bool:
    """Hide an announcement for this customer (sticky ones cannot be hidden). Idempotent."""
    visible = {a.pk: a for a in announcements_for(user_id=user_id)}
    announcement = visible.get(announcement_id)
    if announcement is None or announcement.sticky:
        return False
    AnnouncementDismissal.objects.get_or_create(announcement_id=announcement_id, user_id=user_id)
    return True
