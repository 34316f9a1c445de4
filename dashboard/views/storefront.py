"""Favourite services, the orders CSV export, the subscriptions page, ticket attachments."""

import io
from urllib.parse import urlsplit

from django.http import FileResponse, Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from catalog.favourites import favourite_ids, favourite_set
from catalog.models import Service, ServiceType
from catalog.selectors import translated_text
from orders.models import ACTIVE_STATUSES, Order
from panel.security import SpreadsheetSafeWriter, safe_next_url
from support.attachments import attachment_open
from support.models import TicketAttachment

from .common import customer_view, paginate
from .orders import annotate_actions, order_filters

# --- Favourites ----------------------------------------------------------------------------------


@require_POST
@customer_view
def favourite(request, pk: int):
    """Star (starred=1) or unstar (starred=0) a service: the star button again for htmx, else
    back to the page the button was on."""
    starred = request.POST.get("starred") == "1"
    try:
        starred = favourite_set(user_id=request.user.pk, service_id=pk, starred=starred)
    except Service.DoesNotExist:
        raise Http404 from None
    if request.htmx:
        # The star again, and the Favourites tab's count (out of band, where the page has one).
        on_services = urlsplit(request.htmx.current_url or "").path == reverse("dashboard:services")
        context = {"sid": pk, "starred": starred, "count": len(favourite_ids(request.user.pk)) if on_services else None}
        return render(request, "dashboard/partials/star_toggled.html", context)
    back = request.POST.get("next") or request.headers.get("Referer")
    return HttpResponseRedirect(safe_next_url(request, back, reverse("dashboard:services")))


# --- Orders export -------------------------------------------------------------------------------

# The column titles, in the customer's language; the cells are the data as stored (the status
# column holds the protocol's words, as the API answers them).
EXPORT_HEADER = [
    _("ID"),
    _("Date"),
    _("Service ID"),
    _("Service"),
    _("Link"),
    _("Quantity"),
    _("Runs"),
    _("Charge"),
    _("Refunded"),
    _("Start count"),
    _("Remains"),
    _("Status"),
]


class _Line:
    """A file-like sink for one CSV row at a time (the export streams, whatever its size)."""

    def __init__(self):
        self.buffer = io.StringIO()

    def write(self, text: str) -> None:
        self.buffer.write(text)

    def take(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text


def _export_rows(orders, tz, header: list[str]):
    sink = _Line()
    writer = SpreadsheetSafeWriter(sink)
    writer.writerow(header)
    yield "\ufeff" + sink.take()  # a BOM, so that spreadsheets read the file as UTF-8
    rows = orders.annotate(service_text=translated_text("service__name")).values_list(
        "pk",
        "created_at",
        "service_id",
        "service_text",
        "link",
        "quantity",
        "runs",
        "charge",
        "refunded",
        "start_count",
        "remains",
        "status",
    )
    for pk, created, service_id, name, link, quantity, runs, charge, refunded, start, remains, status in rows.iterator(
        chunk_size=2000
    ):
        writer.writerow(
            [
                pk,
                timezone.localtime(created, tz).strftime("%Y-%m-%d %H:%M:%S"),
                service_id,
                name,
                link,
                quantity,
                runs if runs is not None else "",
                charge,
                refunded,
                start if start is not None else "",
                remains if remains is not None else "",
                status,
            ]
        )
        yield sink.take()


@require_GET
@customer_view
def orders_export(request):
    """The customer's own orders as CSV, with the filters of the orders list: every cell a
    spreadsheet would run as a formula is neutralised (panel.security.SpreadsheetSafeWriter)."""
    _form, orders, _status = order_filters(request)
    # Time zone and titles now: the rows stream after this view (and its time zone) has returned.
    header = [str(title) for title in EXPORT_HEADER]
    rows = _export_rows(orders.order_by("-id"), timezone.get_current_timezone(), header)
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="orders-{timezone.localdate():%Y%m%d}.csv"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Subscriptions -------------------------------------------------------------------------------


@customer_view
def subscriptions(request):
    """Subscription orders: the account watched, posts delivered of those paid for, the
    expiry, the state, and Cancel where the service and the order allow it."""
    rows = Order.objects.filter(user=request.user, service__type=ServiceType.SUBSCRIPTIONS).select_related("service")
    state = request.GET.get("state", "")
    if state == "active":
        rows = rows.filter(status__in=ACTIVE_STATUSES)
    elif state == "done":
        rows = rows.exclude(status__in=ACTIVE_STATUSES)
    else:
        state = ""
    page = paginate(request, rows.order_by("-id"))
    annotate_actions(page.object_list)
    for order in page.object_list:
        params = order.params or {}
        order.sub_username = params.get("username", "")
        order.sub_posts = params.get("posts")
        order.sub_old_posts = params.get("old_posts")
        order.sub_expiry = params.get("expiry", "")
        order.sub_delivered = order.upstream_posts
    return render(request, "dashboard/subscriptions.html", {"page": page, "state": state})


# --- Ticket attachments --------------------------------------------------------------------------


def _attachment_for(request, pk: int) -> TicketAttachment:
    """The attachment if this user may read it: the ticket's owner, or staff. Anyone else gets
    the same 404 as for an attachment that does not exist."""
    attachment = get_object_or_404(TicketAttachment.objects.select_related("message__ticket"), pk=pk)
    if attachment.message.ticket.user_id != request.user.pk and not request.user.is_staff:
        raise Http404
    return attachment


@require_GET
@customer_view
def attachment(request, pk: int):
    item = _attachment_for(request, pk)
    handle = attachment_open(item)
    if handle is None:
        raise Http404
    # Images we re-encoded ourselves are shown inline; everything else (PDF) is downloaded.
    inline = item.content_type.startswith("image/") and request.GET.get("download") != "1"
    response = FileResponse(
        handle, content_type=item.content_type, as_attachment=not inline, filename=item.download_name
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Even if a browser rendered it as a page, nothing in it could run or reach anything.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
