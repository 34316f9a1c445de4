import uuid
from datetime import timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models import Category, Service

from .selectors import GROUPINGS


def new_token() -> str:
    return uuid.uuid4().hex


class ConfirmForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=500, widget=forms.TextInput(attrs={"size": 60})
    )


class ResendForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I checked the provider: it does not have this order, or a duplicate is acceptable."), required=True
    )


class MarkSentForm(forms.Form):
    upstream_order_id = forms.CharField(label=_("Provider's order ID"), max_length=64)


class PartialForm(forms.Form):
    remains = forms.IntegerField(label=_("Remains"), min_value=1, help_text=_("Units the provider did not deliver."))
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=500, widget=forms.TextInput(attrs={"size": 60})
    )


class MoveForm(forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.none(), label=_("Move to service"))

    def __init__(self, *args, order=None, **kwargs):
        super().__init__(*args, **kwargs)
        qs = Service.objects.filter(enabled=True, upstream__provider__enabled=True).select_related("upstream__provider")
        if order is not None:
            qs = qs.filter(type=order.service.type).exclude(upstream__provider_id=order.provider_id)
        self.fields["service"].queryset = qs.order_by("upstream__provider__name", "name")
        self.fields["service"].label_from_instance = lambda s: f"{s.upstream.provider.name} · #{s.pk} {s.name}"


class BalanceAdjustForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=18,
        decimal_places=5,
        help_text=_("Signed: positive credits the customer, negative debits."),
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=200, help_text=_("Required; stored in the ledger and the audit log.")
    )
    token = forms.CharField(widget=forms.HiddenInput)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("Enter a non-zero amount."))
        return amount


class ImportForm(forms.Form):
    upstream = forms.MultipleChoiceField(
        label=_("Upstream services"), required=True, widget=forms.CheckboxSelectMultiple, choices=()
    )
    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=Category.objects.all(),
        required=False,
        empty_label=_("(one per upstream category)"),
    )
    new_category = forms.CharField(required=False, max_length=255, label=_("or a new category"))
    markup_percent = forms.DecimalField(
        label=_("Markup percent"),
        required=False,
        max_digits=7,
        decimal_places=2,
        min_value=Decimal("0"),
        help_text=_("Empty: the pricing rules."),
    )
    enabled = forms.BooleanField(required=False, initial=True, label=_("Enable for sale at once"))

    def __init__(self, *args, upstream_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["upstream"].choices = upstream_choices


class MarkupForm(forms.Form):
    markup_percent = forms.DecimalField(
        label=_("Markup percent"),
        required=False,
        max_digits=7,
        decimal_places=2,
        min_value=Decimal("0"),
        help_text=_("The services' own markup; empty: their category's, provider's or the panel default."),
    )


class ReportForm(forms.Form):
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    by = forms.ChoiceField(
        label=_("By"), choices=[(key, grouping[0]) for key, grouping in GROUPINGS.items()], initial="day"
    )

    @staticmethod
    def defaults() -> dict:
        today = timezone.localdate()
        return {"start": today - timedelta(days=29), "end": today, "by": "day"}

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("The start is after the end."))
        if start and end and (end - start).days > 3660:
            raise forms.ValidationError(_("Pick at most ten years."))
        return cleaned
