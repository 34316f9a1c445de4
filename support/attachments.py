"""Ticket attachments: images and PDF, checked by their content, never by their name.

An upload is accepted only when its bytes are what it claims to be:
- an image Pillow decodes (PNG, JPEG, GIF, WebP) within MAX_PIXELS, which is then re-encoded by
  us (PNG, or JPEG for photos), so what we store and serve is an image we wrote: metadata (EXIF
  location), trailing bytes and anything smuggled inside are gone;
- a PDF: starts with "%PDF-" and ends with "%%EOF" (served only as a download).
Anything else (an HTML page or a PHP script named photo.png, an SVG, a ZIP) is refused, as is a
file over MAX_BYTES or a message with more than MAX_FILES files.

Files are written under settings.VAR_DIR/attachments with a random name and no extension, outside
anything the web server serves; the rows are written in the same transaction as the message, and
a file whose transaction failed is removed.
"""

import hashlib
import io
import os
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from accounts.models import User
from panel.tenancy import var_dir

from .models import Ticket, TicketAttachment, TicketMessage
from .services import ticket_open, ticket_reply

MAX_BYTES = 5 * 1024 * 1024
MAX_FILES = 3
MAX_PIXELS = 25_000_000
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
PDF_CONTENT_TYPE = "application/pdf"


class AttachmentError(ValueError):
    """The upload is refused; the message says why, for the customer."""


@dataclass(frozen=True)
class Prepared:
    data: bytes
    content_type: str
    name: str
    width: int | None = None
    height: int | None = None


def attachments_dir() -> Path:
    # Each panel's own folder (panel.tenancy): a child's files never sit beside another's.
    return var_dir() / "attachments"


def _clean_name(raw: str, extension: str) -> str:
    """A display name: the upload's own stem (letters, digits, - _ . and spaces only), with the
    extension of what the file really is."""
    stem = os.path.splitext(os.path.basename(str(raw or "").replace("\\", "/")))[0]
    stem = unicodedata.normalize("NFKC", stem)
    stem = "".join(c for c in stem if c.isalnum() or c in " -_.").strip(" .")[:80]
    return f"{stem or 'attachment'}.{extension}"


def _read(upload) -> bytes:
    if upload.size is not None and upload.size > MAX_BYTES:
        raise AttachmentError(_("%(name)s is larger than %(mb)s MB.") % {"name": upload.name, "mb": MAX_BYTES // 2**20})
    upload.seek(0)
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise AttachmentError(_("%(name)s is larger than %(mb)s MB.") % {"name": upload.name, "mb": MAX_BYTES // 2**20})
    if not data:
        raise AttachmentError(_("%(name)s is empty.") % {"name": upload.name})
    return data


def _image(data: bytes, raw_name: str) -> Prepared | None:
    """The image re-encoded by us, or None when the bytes are no image Pillow reads."""
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise AttachmentError(_("%(name)s has too many pixels.") % {"name": raw_name})
            probe.verify()
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            source_format = image.format
            image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image)
            out = io.BytesIO()
            if source_format == "JPEG":
                image.convert("RGB").save(out, format="JPEG", quality=90, optimize=True)
                content_type, extension = "image/jpeg", "jpg"
            else:
                mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB"
                image.convert(mode).save(out, format="PNG", optimize=True)
                content_type, extension = "image/png", "png"
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, AttachmentError):
            raise
        return None
    return Prepared(out.getvalue(), content_type, _clean_name(raw_name, extension), width, height)


def attachment_prepare(upload) -> Prepared:
    """Check one uploaded file by its content; AttachmentError when it is refused."""
    data = _read(upload)
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-1024:]:
            raise AttachmentError(_("%(name)s is not a complete PDF.") % {"name": upload.name})
        return Prepared(data, PDF_CONTENT_TYPE, _clean_name(upload.name, "pdf"))
    prepared = _image(data, upload.name)
    if prepared is None:
        raise AttachmentError(_("%(name)s is not an image (PNG, JPEG, GIF, WebP) or a PDF.") % {"name": upload.name})
    if len(prepared.data) > MAX_BYTES:
        raise AttachmentError(_("%(name)s is larger than %(mb)s MB.") % {"name": upload.name, "mb": MAX_BYTES // 2**20})
    return prepared


def attachments_prepare(uploads) -> list[Prepared]:
    uploads = list(uploads or [])
    if len(uploads) > MAX_FILES:
        raise AttachmentError(_("Attach at most %(n)s files.") % {"n": MAX_FILES})
    return [attachment_prepare(upload) for upload in uploads]


def _write(prepared: list[Prepared]) -> list[str]:
    """Write each file under a fresh random name (no extension); returns the names."""
    folder = attachments_dir()
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    try:
        for item in prepared:
            name = secrets.token_hex(16)
            temporary = folder / f".{name}.part"
            with open(temporary, "xb") as handle:
                handle.write(item.data)
            os.replace(temporary, folder / name)
            names.append(name)
    except OSError:
        _remove(names)
        raise
    return names


def _remove(names: list[str]) -> None:
    for name in names:
        (attachments_dir() / name).unlink(missing_ok=True)


def _attach(message: TicketMessage, prepared: list[Prepared], names: list[str]) -> None:
    TicketAttachment.objects.bulk_create(
        TicketAttachment(
            message=message,
            stored_name=name,
            content_type=item.content_type,
            name=item.name,
            size=len(item.data),
            sha256=hashlib.sha256(item.data).hexdigest(),
            width=item.width,
            height=item.height,
        )
        for item, name in zip(prepared, names, strict=True)
    )


def ticket_open_with_files(
    *, user: User, subject: str, body: str, topic: str, order_id: int | None = None, files: list[Prepared]
) -> Ticket:
    """ticket_open, with the first message's attachments (already checked by attachments_prepare)."""
    names = _write(files)
    try:
        with transaction.atomic():
            ticket = ticket_open(user=user, subject=subject, body=body, topic=topic, order_id=order_id)
            _attach(ticket.messages.order_by("id").first(), files, names)
    except BaseException:
        _remove(names)
        raise
    return ticket


def ticket_reply_with_files(*, ticket: Ticket, author: User, body: str, files: list[Prepared]) -> TicketMessage:
    """ticket_reply, with the reply's attachments (already checked by attachments_prepare)."""
    names = _write(files)
    try:
        with transaction.atomic():
            message = ticket_reply(ticket=ticket, author=author, body=body)
            _attach(message, files, names)
    except BaseException:
        _remove(names)
        raise
    return message


def attachment_open(attachment: TicketAttachment):
    """The stored file opened for reading, or None when it is missing."""
    if not attachment.stored_name.isalnum():  # never a path: names are ours, hex only
        return None
    try:
        return open(attachments_dir() / attachment.stored_name, "rb")  # FileResponse closes it
    except FileNotFoundError:
        return None
