"""Staff tokens of the Admin API: issue, rotate, revoke (each audited), and the lookup by key.

Keys are made and hashed as customers' API keys are (accounts.services: 48 hex characters from
`secrets`, SHA-256 stored, the lookup by hash): a key is shown once and never stored.
"""

import hmac
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import User
from accounts.services import API_KEY_BYTES, API_KEY_PREFIX_LEN, MAX_KEY_LENGTH, api_key_hash, audit_record
from upstream.refusals import Refusal

from .models import StaffToken


class TokenRefused(Refusal):
    """The token cannot be issued or changed as asked; the message is for staff. str() is the
    English text (tests and logs read it); the token pages show translated(), in the staff
    member's language. Each message is marked with gettext_noop where it is raised."""


def _may_manage(actor: User, owner: User) -> bool:
    """A staff member manages their own tokens; a superuser anyone's."""
    return actor.is_active and (actor.is_superuser or (actor.is_staff and actor.pk == owner.pk))


def _new_key() -> tuple[str, str, str]:
    raw = secrets.token_hex(API_KEY_BYTES)
    return raw, api_key_hash(raw), raw[:API_KEY_PREFIX_LEN]


def token_issue(*, owner_id: int, name: str, actor: User) -> tuple[StaffToken, str]:
    """A new token for a staff member; returns it and its key, which is never shown again."""
    owner = User.objects.filter(pk=owner_id).first()
    name = (name or "").strip()[:100]
    if owner is None or not owner.is_staff:
        raise TokenRefused(gettext_noop("Tokens are for staff members only."))
    if not _may_manage(actor, owner):
        raise TokenRefused(gettext_noop("Only the staff member themself or a superuser can issue their tokens."))
    if not name:
        raise TokenRefused(gettext_noop("Name the token (what the script is)."))
    raw, digest, prefix = _new_key()
    try:
        with transaction.atomic():
            token = StaffToken.objects.create(user=owner, name=name, key_hash=digest, prefix=prefix)
            audit_record(
                actor_id=actor.pk, action="adminapi.token_issue", obj=token, after={"user": owner.pk, "name": name}
            )
    except IntegrityError:
        raise TokenRefused(
            gettext_noop("%(owner)s already has an active token named “%(name)s”."),
            {"owner": owner.get_username(), "name": name},
        ) from None
    return token, raw


@transaction.atomic
def token_rotate(*, token_id: int, actor: User) -> tuple[StaffToken, str]:
    """Replace a token's key: the old key stops working at once. Returns the new key, once."""
    token = StaffToken.objects.select_for_update().select_related("user").filter(pk=token_id).first()
    if token is None or not _may_manage(actor, token.user):
        raise TokenRefused(gettext_noop("No such token of yours."))
    if not token.active:
        raise TokenRefused(gettext_noop("A revoked token cannot be rotated; issue a new one."))
    raw, digest, prefix = _new_key()
    before = {"prefix": token.prefix}
    StaffToken.objects.filter(pk=token.pk).update(key_hash=digest, prefix=prefix, rotated_at=timezone.now())
    audit_record(actor_id=actor.pk, action="adminapi.token_rotate", obj=token, before=before, after={"prefix": prefix})
    token.refresh_from_db()
    return token, raw


@transaction.atomic
def token_revoke(*, token_id: int, actor: User) -> bool:
    """Revoke a token for good. False: it was already revoked."""
    token = StaffToken.objects.select_for_update().select_related("user").filter(pk=token_id).first()
    if token is None or not _may_manage(actor, token.user):
        raise TokenRefused(gettext_noop("No such token of yours."))
    if not token.active:
        return False
    StaffToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    audit_record(actor_id=actor.pk, action="adminapi.token_revoke", obj=token, before={"prefix": token.prefix})
    return True


def token_lookup(raw_key: str | None) -> StaffToken | None:
    """The active token with this key whose owner is an active staff member, or None."""
    if not raw_key or len(raw_key) > MAX_KEY_LENGTH:
        return None
    digest = api_key_hash(raw_key)
    token = (
        StaffToken.objects.filter(key_hash=digest, revoked_at__isnull=True, user__is_active=True, user__is_staff=True)
        .select_related("user")
        .first()
    )
    if token is None or not hmac.compare_digest(token.key_hash, digest):
        return None
    now = timezone.now()
    # Written at most once a minute: a busy script should not write a row per call.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        StaffToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
