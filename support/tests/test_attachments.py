"""Ticket attachments: checked by content, stored outside the web root, served to owner and staff only."""

import io

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from accounts.models import User
from support.attachments import MAX_BYTES, MAX_FILES, attachments_dir
from support.models import Ticket, TicketAttachment
from support.services import ticket_open

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _plain_static(plain_static_storage):
    pass


@pytest.fixture(autouse=True)
def _attachments_in_tmp(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def png_bytes(size=(40, 30), color=(200, 30, 30), extra: bytes = b"") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue() + extra


def jpeg_with_exif() -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (20, 20), (0, 100, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def upload(name: str, data: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def open_ticket(client, files, **extra):
    data = {"subject": "Help", "topic": "other", "message": "See attached", "attachments": files, **extra}
    return client.post(reverse("dashboard:tickets"), data)


def test_customer_attaches_an_image_and_a_pdf(client, customer):
    client.force_login(customer)
    response = open_ticket(client, [upload("shot.png", png_bytes()), upload("invoice.pdf", PDF, "application/pdf")])
    assert response.status_code == 302
    ticket = Ticket.objects.get(user=customer)
    image, pdf = TicketAttachment.objects.filter(message__ticket=ticket).order_by("id")
    assert (image.content_type, image.name, image.width, image.height) == ("image/png", "shot.png", 40, 30)
    assert (pdf.content_type, pdf.name) == ("application/pdf", "invoice.pdf")
    # Stored outside the web root, under a random name without extension.
    stored = attachments_dir() / image.stored_name
    assert stored.exists() and "." not in image.stored_name
    assert not str(stored).startswith(str(settings.STATIC_ROOT))
    body = client.get(reverse("dashboard:ticket", args=[ticket.pk])).content.decode()
    assert reverse("dashboard:ticket_attachment", args=[image.pk]) in body and "invoice.pdf" in body

    response = client.get(reverse("dashboard:ticket_attachment", args=[image.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert "sandbox" in response["Content-Security-Policy"]
    data = b"".join(response.streaming_content)
    assert Image.open(io.BytesIO(data)).size == (40, 30)

    response = client.get(reverse("dashboard:ticket_attachment", args=[pdf.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content) == PDF


def test_reply_with_an_attachment(client, customer):
    ticket = ticket_open(user=customer, subject="Q", body="first", topic="other")
    client.force_login(customer)
    response = client.post(
        reverse("dashboard:ticket", args=[ticket.pk]),
        {"message": "and a photo", "attachments": [upload("p.png", png_bytes())]},
    )
    assert response.status_code == 302
    assert TicketAttachment.objects.filter(message__ticket=ticket, message__body="and a photo").count() == 1


def test_owner_and_staff_download_another_customer_gets_404(client, customer):
    client.force_login(customer)
    open_ticket(client, [upload("shot.png", png_bytes())])
    attachment = TicketAttachment.objects.get()
    url = reverse("dashboard:ticket_attachment", args=[attachment.pk])
    assert client.get(url).status_code == 200

    stranger = User.objects.create(username="stranger")
    client.force_login(stranger)
    assert client.get(url).status_code == 404
    assert client.get(reverse("dashboard:ticket_attachment", args=[attachment.pk + 1000])).status_code == 404

    staff = User.objects.create(username="helper", is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 200

    client.logout()
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("shell.png", b"<?php system($_GET['c']); ?>"),
        ("page.png", b"<!doctype html><html><script>alert(document.cookie)</script></html>"),
        ("logo.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        ("archive.pdf", b"PK\x03\x04" + b"\x00" * 100),
        ("fake.jpg", b"\xff\xd8\xff\xe0" + b"<html>not really</html>"),
        ("cut.pdf", b"%PDF-1.4\n<html>no end"),
        ("empty.png", b""),
    ],
)
def test_content_type_spoofing_is_refused(client, customer, name, data):
    client.force_login(customer)
    response = open_ticket(client, [upload(name, data, "image/png")])
    assert response.status_code == 200  # the form again, with the error beside the field
    body = response.content.decode()
    assert 'id="field-attachments"' in body and "has-error" in body.split('id="field-attachments"')[0][-60:]
    assert not Ticket.objects.exists() and not TicketAttachment.objects.exists()
    assert not attachments_dir().exists() or not any(attachments_dir().iterdir())


def test_size_and_count_limits(client, customer):
    client.force_login(customer)
    big = upload("big.pdf", b"%PDF-1.4\n" + b"0" * MAX_BYTES + b"\n%%EOF\n", "application/pdf")
    response = open_ticket(client, [big])
    assert "larger than 5 MB" in response.content.decode()
    many = [upload(f"{i}.png", png_bytes()) for i in range(MAX_FILES + 1)]
    response = open_ticket(client, many)
    assert f"at most {MAX_FILES} files" in response.content.decode()
    assert not TicketAttachment.objects.exists()


def test_images_are_re_encoded_dropping_metadata_and_trailing_bytes(client, customer):
    client.force_login(customer)
    open_ticket(
        client,
        [
            upload("photo.jpeg", jpeg_with_exif(), "image/jpeg"),
            upload("poly.png", png_bytes(extra=b"<?php evil(); ?>")),
        ],
    )
    photo, poly = TicketAttachment.objects.order_by("id")
    photo_bytes = (attachments_dir() / photo.stored_name).read_bytes()
    assert photo.content_type == "image/jpeg" and photo.name == "photo.jpg"
    assert b"SecretCam" not in photo_bytes
    poly_bytes = (attachments_dir() / poly.stored_name).read_bytes()
    assert b"<?php" not in poly_bytes and poly_bytes.startswith(b"\x89PNG")


def test_file_names_are_cleaned(client, customer):
    client.force_login(customer)
    open_ticket(client, [upload('../../etc/"x<y>.php.png', png_bytes())])
    attachment = TicketAttachment.objects.get()
    assert "/" not in attachment.name and "<" not in attachment.name and '"' not in attachment.name
    assert attachment.name.endswith(".png")


def test_staff_see_the_files_on_the_tickets_backoffice_page(client, customer, settings):
    from django.contrib.auth.models import Group

    from backoffice.roles import ensure_roles

    settings.STAFF_REQUIRE_2FA = False
    client.force_login(customer)
    open_ticket(client, [upload("shot.png", png_bytes()), upload("invoice.pdf", PDF, "application/pdf")])
    ticket = Ticket.objects.get()
    image, pdf = TicketAttachment.objects.order_by("id")
    ensure_roles()
    helper = User.objects.create(username="support-1", is_staff=True)
    helper.groups.add(Group.objects.get(name="Support"))
    client.force_login(helper)
    page = client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    assert reverse("dashboard:ticket_attachment", args=[image.pk]) in page
    assert reverse("dashboard:ticket_attachment", args=[pdf.pk]) + "?download=1" in page
    assert client.get(reverse("dashboard:ticket_attachment", args=[pdf.pk]), {"download": "1"}).status_code == 200
