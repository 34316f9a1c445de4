"""Every write of the public face: branding and pages, each audited."""

import io

from django.db import transaction
from django.utils.translation import gettext
from PIL import Image, UnidentifiedImageError

from accounts.services import audit_record

from .models import Branding
from .selectors import brand_forget

LOGO_MAX_BYTES = 512 * 1024
LOGO_MAX_SIDE = 256


class LogoRefused(ValueError):
    """The upload is not an image we can use; the message is for staff, in the active language."""


def logo_png(data: bytes) -> bytes:
    """The upload re-encoded as a PNG of at most 256 px a side: whatever the file carried besides
    pixels (scripts in an SVG-looking name, metadata, polyglot tails) does not survive."""
    if len(data) > LOGO_MAX_BYTES:
        raise LogoRefused(gettext("The logo must be at most %(kb)s KB.") % {"kb": LOGO_MAX_BYTES // 1024})
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in {"PNG", "JPEG", "GIF", "WEBP"}:
                raise LogoRefused(gettext("The logo must be a PNG, JPEG, GIF or WebP image."))
            image.thumbnail((LOGO_MAX_SIDE, LOGO_MAX_SIDE))
            out = io.BytesIO()
            image.convert("RGBA").save(out, format="PNG", optimize=True)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise LogoRefused(gettext("The logo is not an image the panel can read.")) from exc
    return out.getvalue()


FIELDS = ("panel_name", "tagline", "intro", "primary_colour", "accent_colour", "show_public_services")


def branding_save(
    *, actor_id: int | None, row: Branding, logo: bytes | None = None, clear_logo: bool = False
) -> Branding:
    """Save the branding row (pk 1) with its audit entry; the new logo, if any, re-encoded."""
    png = logo_png(logo) if logo else None
    with transaction.atomic():
        old = Branding.objects.select_for_update().filter(pk=1).first()
        before = {name: getattr(old, name) for name in FIELDS} if old else {}
        row.pk = 1
        if old is not None:
            row.logo_png, row.logo_version = old.logo_png, old.logo_version
        if png is not None:
            row.logo_png, row.logo_version = png, row.logo_version + 1
        elif clear_logo:
            row.logo_png, row.logo_version = b"", 0
        row.save()
        after = {name: getattr(row, name) for name in FIELDS} | {"logo_version": row.logo_version}
        audit_record(actor_id=actor_id, action="branding.change", obj=row, before=before, after=after)
        transaction.on_commit(brand_forget)
    brand_forget()
    return row
