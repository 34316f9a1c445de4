"""What every app's admin shares: the staff roles' permission names, read-only admins, text
filters, and the way a higher app adds to a lower app's admin page.

Each model has one ModelAdmin, in the app that owns the model. When a page of a lower app
shows something of a higher one (a provider's catalog import settings, a customer's orders and
payments), the higher app registers it here with `admin_extend`, and the owner's admin (an
ExtendableAdmin) shows it; the lower app never imports the higher one.
"""

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# The staff roles' permissions (see backoffice.roles): they gate actions in every app's admin.
PERM_ORDERS = "backoffice.order_actions"
PERM_MONEY = "backoffice.money_actions"
PERM_CUSTOMERS = "backoffice.customer_actions"
PERM_CATALOG = "backoffice.catalog_actions"
PERM_REPORTS = "backoffice.view_reports"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows only code writes (ledger entries, sync records, payments, audit, requests): staff
    look, nobody adds, edits or deletes them through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class InputFilter(admin.SimpleListFilter):
    """A free-text list filter (customer name, service ID) instead of a list of every value."""

    template = "backoffice/input_filter.html"

    def lookups(self, request, model_admin):
        return ((None, None),)

    def choices(self, changelist):
        # The template renders one text box; keep the other filters in hidden fields.
        query = changelist.get_filters_params()
        query.pop(self.parameter_name, None)
        yield {"query_parts": [(k, v) for k, values in query.items() for v in values]}


class CustomerFilter(InputFilter):
    """Rows of one customer, by exact username or email (for models with a `user` field)."""

    title = _("customer")
    parameter_name = "customer"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        # The customers first, then their rows: `user_id IN (...)` lets a big table use its
        # (user, -id) index instead of scanning newest first for a join that rarely matches.
        users = queryset.model._meta.get_field("user").related_model.objects.filter(
            Q(username__iexact=value) | Q(email__iexact=value)
        )
        return queryset.filter(user_id__in=list(users.values_list("pk", flat=True)))


def labelled_choices_filter(labels: Mapping[str, str]) -> type[admin.ChoicesFieldListFilter]:
    """A list filter of a choices field that offers its values under `labels` (translated) instead
    of the field's own labels: for states whose model labels stay English because error texts the
    APIs answer with embed them. Values without a label here keep the field's."""

    class LabelledChoicesFilter(admin.ChoicesFieldListFilter):
        def __init__(self, field, request, params, model, model_admin, field_path):
            super().__init__(field, request, params, model, model_admin, field_path)
            # A copy: the model's field (shared by every request) keeps its own choices.
            self.field = copy.copy(field)
            self.field.choices = [(value, labels.get(value, label)) for value, label in field.flatchoices]

    return LabelledChoicesFilter


ChangeContext = Callable[[Any, Any], dict]  # (request, obj) -> extra template context


@dataclass
class Extension:
    inlines: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    change_context: list[ChangeContext] = field(default_factory=list)


_extensions: dict[str, Extension] = defaultdict(Extension)


def admin_extend(
    model_label: str,
    *,
    inlines: Iterable = (),
    actions: Iterable[Callable] = (),
    change_context: ChangeContext | None = None,
) -> None:
    """Add inlines, actions or change-page context to the admin of `model_label` ("app.model"),
    which must be an ExtendableAdmin. Called from the higher app's admin module."""
    extension = _extensions[model_label.lower()]
    extension.inlines.extend(inline for inline in inlines if inline not in extension.inlines)
    extension.actions.extend(action for action in actions if action not in extension.actions)
    if change_context is not None and change_context not in extension.change_context:
        extension.change_context.append(change_context)


class ExtendableAdmin(admin.ModelAdmin):
    """A ModelAdmin that shows what higher apps registered for its model with admin_extend."""

    def _extension(self) -> Extension:
        return _extensions[self.model._meta.label_lower]

    def get_inlines(self, request, obj):
        return [*super().get_inlines(request, obj), *self._extension().inlines]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.actions is None or IS_POPUP_VAR in request.GET:
            return actions
        for func in self._extension().actions:
            func, name, description = self.get_action(func)
            allowed = getattr(func, "allowed_permissions", ())
            if all(getattr(self, f"has_{permission}_permission")(request) for permission in allowed):
                actions[name] = (func, name, description)
        return actions

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        contexts = self._extension().change_context
        if contexts:
            obj = self.get_object(request, object_id)
            if obj is not None:
                for context in contexts:
                    extra.update(context(request, obj))
        return super().change_view(request, object_id, form_url, extra)
