"""Dashboard forms. They collect and shape input; orders/validation.py has the final word."""

import uuid
import zoneinfo
from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.urls import reverse
from django.utils.functional import keep_lazy_text
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from billing.models import PaymentMethod
from catalog.models import DRIPFEED_TYPES, Service, ServiceType
from orders.validation import MAX_TEXT
from support.attachments import MAX_BYTES, MAX_FILES, AttachmentError, attachments_prepare
from support.models import Ticket
from upstream.lines import LineError, split_lines

_LINK = ("link",)
_QTY = ("link", "quantity")
# The fields each service type asks for, in the order they are shown.
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    ServiceType.DEFAULT: _QTY,
    ServiceType.PACKAGE: _LINK,
    ServiceType.SEO: (*_QTY, "keywords"),
    ServiceType.CUSTOM_COMMENTS: (*_LINK, "comments"),
    ServiceType.CUSTOM_COMMENTS_PACKAGE: (*_LINK, "comments"),
    ServiceType.MENTIONS_CUSTOM_LIST: (*_LINK, "usernames"),
    ServiceType.MENTIONS: (*_QTY, "usernames"),
    ServiceType.MENTIONS_WITH_HASHTAGS: (*_QTY, "usernames", "hashtags"),
    ServiceType.MENTIONS_HASHTAG: (*_QTY, "hashtag"),
    ServiceType.MENTIONS_USER_FOLLOWERS: (*_QTY, "username"),
    ServiceType.MENTIONS_MEDIA_LIKERS: (*_QTY, "media"),
    ServiceType.COMMENT_LIKES: (*_QTY, "username"),
    ServiceType.POLL: (*_QTY, "answer_number"),
    ServiceType.INVITES_FROM_GROUPS: (*_QTY, "groups"),
    ServiceType.SUBSCRIPTIONS: ("username", "min", "max", "posts", "old_posts", "delay", "expiry"),
    ServiceType.WEB_TRAFFIC: (*_QTY, "country", "device", "type_of_traffic", "google_keyword", "referring_url"),
}
# No number typed into an order form is larger: the order engine sets the real limits (the
# service's min and max, runs, posts...), this keeps absurd numbers out of everything before it.
MAX_NUMBER = 2**31 - 1
MAX_MASS_LINES = 500
DELAYS = [0, 5, 10, 15, 20, 30, 40, 50, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420, 480, 540, 600]


def _lines(label, help_text=""):
    return forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
    )


def _number(label, help_text=""):
    return forms.IntegerField(
        label=label,
        required=False,
        help_text=help_text,
        min_value=-MAX_NUMBER,
        max_value=MAX_NUMBER,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


class OrderForm(forms.Form):
    """Every field any service type may need; `fields_for(service)` says which ones to show."""

    service = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    link = forms.CharField(
        label=_("Link"), required=False, max_length=2000, widget=forms.TextInput(attrs={"placeholder": "https://"})
    )
    quantity = _number(_("Quantity"))
    keywords = _lines(_("Keywords"), _("One per line."))
    comments = _lines(_("Comments"), _("One per line; the quantity is the number of lines."))
    usernames = _lines(_("Usernames"), _("One per line."))
    hashtags = _lines(_("Hashtags"), _("One per line."))
    hashtag = forms.CharField(label=_("Hashtag"), required=False, max_length=200)
    username = forms.CharField(label=_("Username"), required=False, max_length=200)
    media = forms.CharField(label=_("Media URL"), required=False, max_length=2000)
    groups = _lines(_("Groups"), _("One per line."))
    answer_number = _number(_("Answer number"))
    min = _number(_("Min per post"))
    max = _number(_("Max per post"))
    posts = _number(_("New posts"))
    old_posts = _number(_("Old posts"), _("Optional: recent posts to deliver to (0-100)."))
    delay = forms.TypedChoiceField(
        label=_("Delay (minutes)"), required=False, coerce=int, choices=[(d, d) for d in DELAYS], empty_value=None
    )
    expiry = forms.CharField(
        label=_("Expiry"), required=False, max_length=10, widget=forms.TextInput(attrs={"placeholder": "dd/mm/yyyy"})
    )
    country = forms.CharField(label=_("Country"), required=False, max_length=100)
    device = forms.TypedChoiceField(
        label=_("Device"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[
            (1, _("Desktop")),
            (2, _("Mobile Android")),
            (3, _("Mobile iOS")),
            (4, _("Mixed mobile")),
            (5, _("Mixed")),
        ],
    )
    type_of_traffic = forms.TypedChoiceField(
        label=_("Type of traffic"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[(1, _("Google keyword")), (2, _("Custom referrer")), (3, _("Blank referrer"))],
    )
    google_keyword = forms.CharField(label=_("Google keyword"), required=False, max_length=500)
    referring_url = forms.CharField(label=_("Referring URL"), required=False, max_length=2000)
    dripfeed = forms.BooleanField(
        label=_("Drip-feed"), required=False, widget=forms.CheckboxInput(attrs={"data-toggle": "#dripfeed-fields"})
    )
    runs = _number(_("Runs"), _("How many times to deliver the quantity."))
    interval = _number(_("Interval (minutes)"))

    def __init__(self, *args, service: Service | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.service_obj = service
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)
            if service is not None:
                self.initial.setdefault("service", service.pk)
                if "quantity" in fields_for(service):
                    self.initial.setdefault("quantity", service.min)
        if service is None:
            return
        # Only the fields of the service's type are checked (and shown): an error on a field the
        # customer cannot see would leave them with a form that silently refuses.
        keep = {"service", "idempotency_key", *fields_for(service)}
        if supports_dripfeed(service):
            keep |= {"dripfeed", "runs", "interval"}
        for name in set(self.fields) - keep:
            del self.fields[name]
        # The quantity (and a subscription's min and max) within the service's range, worded as
        # the order engine words it.
        for name in ("quantity", "min", "max"):
            if name in self.fields:
                field = self.fields[name]
                field.widget.attrs.update({"min": service.min, "max": service.max})
                field.validators += [
                    MinValueValidator(service.min, _("Quantity less than minimal %(limit_value)s")),
                    MaxValueValidator(service.max, _("Quantity more than maximum %(limit_value)s")),
                ]

    def visible_names(self) -> tuple[str, ...]:
        return fields_for(self.service_obj) if self.service_obj else ()

    def shown_field(self, name: str | None) -> str | None:
        """Where an error about `name` is shown: beside the field if the form shows it, else on top."""
        shown = (*self.visible_names(), "runs", "interval")
        return name if name in shown and name in self.fields else None

    def type_fields(self):
        return [self[name] for name in self.visible_names()]

    def dripfeed_fields(self):
        return [self["runs"], self["interval"]]

    def order_data(self) -> dict:
        """The parameters to hand to order_place, only those of the service's type."""
        data = {}
        for name in self.visible_names():
            value = self.cleaned_data.get(name)
            if value not in (None, ""):
                data[name] = value
        if self.service_obj and self.service_obj.dripfeed and self.cleaned_data.get("dripfeed"):
            for name in ("runs", "interval"):
                value = self.cleaned_data.get(name)
                data[name] = "" if value is None else value
        return data


def fields_for(service: Service) -> tuple[str, ...]:
    return TYPE_FIELDS.get(service.type, _QTY)


def supports_dripfeed(service: Service) -> bool:
    return service.dripfeed and service.type in DRIPFEED_TYPES


class MassOrderForm(forms.Form):
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    orders = forms.CharField(
        label=_("Orders"),
        widget=forms.Textarea(
            attrs={"rows": 12, "spellcheck": "false", "placeholder": "12 | https://example.com/post | 1000"}
        ),
        help_text=_("One order per line: service ID | link | quantity"),
        max_length=100_000,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)

    def clean_orders(self):
        """The orders' lines, split as everywhere else in the panel (upstream.lines)."""
        try:
            lines = split_lines(self.cleaned_data["orders"], label=gettext_noop("Orders"))
        except LineError as exc:
            raise forms.ValidationError(exc.translated()) from None
        if not lines:
            raise forms.ValidationError(_("Enter at least one order."))
        if len(lines) > MAX_MASS_LINES:
            raise forms.ValidationError(_("At most 500 orders at once."))
        return lines


class OrderFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200)
    service = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


def timezone_choices():
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class TimezoneForm(forms.Form):
    timezone = forms.ChoiceField(label=_("Time zone"), choices=timezone_choices)


class DepositForm(forms.Form):
    method = forms.ModelChoiceField(
        label=_("Method"),
        queryset=PaymentMethod.objects.filter(enabled=True, kind=PaymentMethod.Kind.MANUAL),
        empty_label=None,
    )
    amount = forms.DecimalField(label=_("Amount"), max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    reference = forms.CharField(
        label=_("Payment reference"), required=False, max_length=255, help_text=_("Transaction ID or sender name.")
    )

    def clean(self):
        data = super().clean()
        method, amount = data.get("method"), data.get("amount")
        if method and amount is not None:
            if amount < method.min_amount:
                self.add_error(
                    "amount",
                    _("The minimum for this method is %(min)s.") % {"min": format(method.min_amount.normalize(), "f")},
                )
            elif method.max_amount is not None and amount > method.max_amount:
                self.add_error(
                    "amount",
                    _("The maximum for this method is %(max)s.") % {"max": format(method.max_amount.normalize(), "f")},
                )
        return data


class GatewayDepositForm(forms.Form):
    """The amount of a deposit through one gateway method, within the method's limits (panel
    currency, two decimals). The amount is what the balance receives; fee and bonus come on top."""

    amount = forms.DecimalField(
        label=_("Amount"), max_digits=12, decimal_places=2, min_value=Decimal("0.01"), max_value=Decimal("1e9")
    )

    def __init__(self, method: PaymentMethod, *args, **kwargs):
        super().__init__(*args, prefix=f"m{method.pk}", **kwargs)
        self.method = method
        self.low, self.high = method.min_amount, method.max_amount
        field = self.fields["amount"]
        field.widget.attrs.update(
            {
                "min": str(self.low.normalize()),
                "step": "0.01",
                "inputmode": "decimal",
                # The live quote (fee, bonus, total) under the field, from the server: htmx, no inline script.
                "hx-get": reverse("dashboard:deposit_quote", args=[method.pk]),
                "hx-trigger": "input changed delay:250ms, load",
                "hx-target": f"#quote-{method.pk}",
                "hx-sync": "this:replace",
            }
        )
        if self.high is not None:
            field.widget.attrs["max"] = str(self.high.normalize())

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount < self.low:
            raise forms.ValidationError(_("The minimum is %(min)s.") % {"min": format(self.low.normalize(), "f")})
        if self.high is not None and amount > self.high:
            raise forms.ValidationError(_("The maximum is %(max)s.") % {"max": format(self.high.normalize(), "f")})
        return amount


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


@keep_lazy_text
def _help_text(text: str, values: dict) -> str:
    return text % values


def _attachments_help():
    return _help_text(
        _("Images (PNG, JPEG, GIF, WebP) or PDF, up to %(n)s files of %(mb)s MB each."),
        {"n": MAX_FILES, "mb": MAX_BYTES // 2**20},
    )


class AttachmentsField(forms.FileField):
    """Up to support.attachments.MAX_FILES images or PDFs, each checked by its content; cleans to
    the list of prepared (re-encoded) files."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp,application/pdf"})
        )
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Attachments"))
        # Lazy: the field is built once, when its form class is defined, and read in each request's language.
        kwargs.setdefault("help_text", _attachments_help())
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        uploads = [upload for upload in (data if isinstance(data, (list, tuple)) else [data]) if upload]
        try:
            return attachments_prepare(uploads)
        except AttachmentError as exc:
            raise forms.ValidationError(str(exc)) from None


class TicketForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    topic = forms.ChoiceField(label=_("About"), choices=Ticket.Topic.choices)
    order_id = forms.IntegerField(label=_("Order ID"), required=False, min_value=1, max_value=2**63 - 1)
    message = forms.CharField(label=_("Message"), max_length=10000, widget=forms.Textarea(attrs={"rows": 6}))
    attachments = AttachmentsField()

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        data = super().clean()
        order_id = data.get("order_id")
        if data.get("topic") == Ticket.Topic.ORDER and not order_id:
            self.add_error("order_id", _("Which order is it about?"))
        if order_id and not self.user.orders.filter(pk=order_id).exists():
            self.add_error("order_id", _("You have no order with this ID."))
        return data


class ReplyForm(forms.Form):
    message = forms.CharField(label=_("Reply"), max_length=10000, widget=forms.Textarea(attrs={"rows": 4}))
    attachments = AttachmentsField()
