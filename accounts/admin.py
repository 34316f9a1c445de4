from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from panel.admin_tools import PERM_CUSTOMERS, PERM_MONEY, ExtendableAdmin, ReadOnlyAdmin
from tenants.limits import staff_room

from .models import AuditLog, LedgerEntry, User
from .services import customer_discount_change


@admin.register(User)
class UserAdmin(ExtendableAdmin, DjangoUserAdmin):
    """Customers and staff. The change page shows the customer's figures and the backoffice's
    actions (adjust, ban, API key); orders, payments and custom prices are added by their apps."""

    list_display = ("username", "email", "balance", "discount_percent", "is_staff", "active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    readonly_fields = ("balance", "api_key_prefix", "api_key_created_at")
    panel_fields = ("balance", "discount_percent", "timezone", "api_key_prefix", "api_key_created_at")
    fieldsets = (*DjangoUserAdmin.fieldsets, (_("Panel"), {"fields": panel_fields}))
    change_form_template = "backoffice/user_change_form.html"

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "is_staff" not in form.base_fields:
            return form

        class StaffLimitedForm(form):
            def clean(self):
                # A child panel's plan includes so many staff users (tenants.limits): making one
                # more is refused here, where staff are made.
                cleaned = super().clean()
                was_staff = self.instance.pk is not None and User.objects.filter(pk=self.instance.pk, is_staff=True)
                if cleaned.get("is_staff") and not (was_staff and was_staff.exists()):
                    free = staff_room(User.objects.filter(is_staff=True).count)
                    if free is not None and free <= 0:
                        self.add_error(
                            "is_staff", gettext("This panel's plan includes no more staff users: its limit is reached.")
                        )
                return cleaned

        return StaffLimitedForm

    def get_readonly_fields(self, request, obj=None):
        # Bans go through the audited action, never through the form.
        fields = [*super().get_readonly_fields(request, obj), "is_active"]
        if obj is not None and not request.user.has_perm(PERM_CUSTOMERS):
            fields.append("discount_percent")
        return fields

    @admin.display(description=_("Active"), boolean=True, ordering="is_active")
    def active(self, obj):
        return obj.is_active

    def save_model(self, request, obj, form, change):
        # The discount goes through the audited service; everything else saves as usual.
        discount_changed = change and "discount_percent" in form.changed_data
        new_discount = obj.discount_percent
        if discount_changed:
            obj.discount_percent = form.initial["discount_percent"]
        super().save_model(request, obj, form, change)
        if discount_changed:
            customer_discount_change(user_id=obj.pk, percent=new_discount, actor_id=request.user.pk)
            obj.discount_percent = new_discount

    def change_view(self, request, object_id, form_url="", extra_context=None):
        user = self.get_object(request, object_id)
        extra = {}
        if user is not None:
            extra = {
                "customer": user,
                "recent_ledger": LedgerEntry.objects.filter(user=user).order_by("-id")[:10],
                "can_money": request.user.has_perm(PERM_MONEY),
                "can_customers": request.user.has_perm(PERM_CUSTOMERS),
            }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    """Entries are append-only: the ledger module writes them, nobody edits them."""

    list_display = ("id", "created_at", "user", "kind", "amount", "balance_after", "order_id", "memo")
    list_filter = ("kind",)
    search_fields = ("user__username", "memo", "=order_id")
    list_select_related = ("user",)


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "object_link", "reason", "change")
    list_filter = ("action", "object_type", ("actor", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("=object_id", "reason", "actor__username")
    list_select_related = ("actor",)
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description=_("Object"))
    def object_link(self, obj):
        app, _, model = obj.object_type.partition(".")
        try:
            url = reverse(f"admin:{app}_{model}_change", args=[obj.object_id])
        except Exception:
            return f"{obj.object_type} {obj.object_id}"
        return format_html('<a href="{}">{} {}</a>', url, model, obj.object_id)

    @admin.display(description=_("Before → after"))
    def change(self, obj):
        keys = sorted(set(obj.before) | set(obj.after))
        parts = [
            f"{k}: {obj.before.get(k, '—')} → {obj.after.get(k, '—')}"
            for k in keys
            if obj.before.get(k) != obj.after.get(k) and k != "rates"
        ]
        return "; ".join(parts)[:300]
