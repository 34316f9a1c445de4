"""The panel's AdminSite: staff two-factor enforcement, the home page, and the purpose-built pages.

Two-factor: a staff member gets in only with a TOTP authenticator and a session in which it
was used (allauth records an "mfa" authentication when the code is entered at login or on
re-authentication). Without an authenticator they are sent to set one up; with one but a
session that never used it (logged in before enabling it, or through a form that skips the
code), they are asked for a code. STAFF_REQUIRE_2FA=false turns this off for the demo and tests.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.db.models.base import ModelBase
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import path, re_path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from panel.security import safe_next_url
from panel.tenancy import is_child
from site_pages.selectors import brand


def staff_2fa_required() -> bool:
    return getattr(settings, "STAFF_REQUIRE_2FA", True)


def two_factor_redirect(request: HttpRequest) -> str | None:
    """Where a logged-in staff member must go before the backoffice lets them in, or None."""
    if not staff_2fa_required():
        return None
    from allauth.account.authentication import get_authentication_records
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import is_mfa_enabled

    user = request.user
    if not is_mfa_enabled(user, [Authenticator.Type.TOTP]):
        return reverse("mfa_activate_totp")
    records = get_authentication_records(request, user)
    if not any(record.get("method") == "mfa" for record in records):
        return reverse("mfa_reauthenticate") + "?" + urlencode({"next": request.get_full_path()})
    return None


# Admin pages of models that moved to another app: old links and bookmarks still land.
MOVED_MODELS = {
    "dashboard": {
        "paymentmethod": "billing",
        "depositrequest": "billing",
        "affiliate": "billing",
        "commission": "billing",
        "gatewaypayment": "billing",
        "gatewayevent": "billing",
        "ticket": "support",
        "ticketmessage": "support",
    },
    "backoffice": {"auditlog": "accounts", "ticketassignment": "support"},
}


def moved_model_redirect(request: HttpRequest, old_app: str, model: str, rest: str) -> HttpResponseRedirect:
    new_app = MOVED_MODELS.get(old_app, {}).get(model)
    if new_app is None:
        raise Http404
    target = reverse("admin:index") + f"{new_app}/{model}/{rest}"
    query = request.META.get("QUERY_STRING", "")
    return HttpResponseRedirect(target + (f"?{query}" if query else ""))


# What belongs to the install, not to one panel: a child panel's staff neither see nor reach these
# admin pages (the model's pages answer 403 and it is missing from the menu and home). The parent's
# staff keep them. By app label, or "app_label.model_name" for a single model.
PARENT_ONLY = {
    # The beat schedule: one for the install, read only from the parent's schema
    # (tenants.beat.PanelsScheduler); a child's copy of the table would be edited for nothing.
    "django_celery_beat",
    # The registry of panels and the plan they are sold on: `public` only, reachable from a
    # child's search path, and the parent's business (childpanels.admin).
    "tenants",
}


def parent_only(model) -> bool:
    """True for the models only the parent's staff manage (PARENT_ONLY)."""
    meta = model._meta
    return meta.app_label in PARENT_ONLY or meta.label_lower in PARENT_ONLY


class ParentOnlyAdmin:
    """Mixed in front of a parent-only model's admin: no permission at all on a child panel."""

    def has_module_permission(self, request):
        return not is_child() and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return not is_child() and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args, **kwargs):
        return not is_child() and super().has_add_permission(request, *args, **kwargs)

    def has_change_permission(self, request, obj=None):
        return not is_child() and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not is_child() and super().has_delete_permission(request, obj)


class PanelAdminSite(admin.AdminSite):
    site_header = gettext_lazy("Panel backoffice")
    site_title = gettext_lazy("Panel backoffice")
    index_title = gettext_lazy("Home")
    index_template = "backoffice/home.html"
    enable_nav_sidebar = True

    def each_context(self, request):
        context = super().each_context(request)
        context["site_header"] = _("%(panel)s backoffice") % {"panel": brand().name}
        return context

    def register(self, model_or_iterable, admin_class=None, **options):
        # Every app registers through here (django_celery_beat too): a parent-only model gets
        # ParentOnlyAdmin in front of its own admin class, whoever wrote it.
        models = [model_or_iterable] if isinstance(model_or_iterable, ModelBase) else list(model_or_iterable)
        for model in models:
            chosen = admin_class or admin.ModelAdmin
            if parent_only(model) and not issubclass(chosen, ParentOnlyAdmin):
                chosen = type(
                    f"ParentOnly{chosen.__name__}", (ParentOnlyAdmin, chosen), {"__module__": chosen.__module__}
                )
            super().register(model, chosen, **options)

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        return two_factor_redirect(request) is None

    def login(self, request, extra_context=None):
        # Everyone logs in through allauth, which asks for the TOTP code; the admin's own form
        # would skip it (and has_permission would then ask for a code anyway).
        # Only a page of this site: a login link must not forward anyone to another host.
        next_url = safe_next_url(request, request.GET.get("next"), reverse("admin:index", current_app=self.name))
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(next_url, settings.LOGIN_URL)
        if user.is_active and user.is_staff:
            target = two_factor_redirect(request)
            if target is not None:
                return HttpResponseRedirect(target)
            return HttpResponseRedirect(next_url)
        return super().login(request, extra_context)

    def index(self, request, extra_context=None):
        from . import selectors

        extra_context = {**(extra_context or {}), "home": selectors.home()}
        return super().index(request, extra_context)

    def get_urls(self):
        from . import manual, staff_tools, views

        urls = [
            path("backoffice/manual/", self.admin_view(manual.queue), name="bo_manual_queue"),
            path("backoffice/manual/<int:order_id>/", self.admin_view(manual.order_page), name="bo_manual_order"),
            path("backoffice/manual/<int:order_id>/<str:action>/", self.admin_view(manual.take), name="bo_manual_take"),
            path(
                "backoffice/manual/refills/<int:refill_id>/<str:outcome>/",
                self.admin_view(manual.refill_resolve),
                name="bo_manual_refill",
            ),
            path(
                "backoffice/manual/cancels/<int:cancel_id>/<str:outcome>/",
                self.admin_view(manual.cancel_resolve),
                name="bo_manual_cancel",
            ),
            path("backoffice/reports/", self.admin_view(views.reports), name="bo_reports"),
            path("backoffice/reports.csv", self.admin_view(views.reports_csv), name="bo_reports_csv"),
            path("backoffice/import/<int:provider_id>/", self.admin_view(views.import_services), name="bo_import"),
            path(
                "backoffice/providers/<int:provider_id>/<str:action>/",
                self.admin_view(views.provider_action),
                name="bo_provider_action",
            ),
            path(
                "backoffice/orders/<int:order_id>/<str:action>/",
                self.admin_view(views.order_action),
                name="bo_order_action",
            ),
            path(
                "backoffice/customers/<int:user_id>/<str:action>/",
                self.admin_view(views.customer_action),
                name="bo_customer_action",
            ),
            path(
                "backoffice/refills/<int:refill_id>/retry/", self.admin_view(views.refill_retry), name="bo_refill_retry"
            ),
            path(
                "backoffice/cancels/<int:cancel_id>/retry/", self.admin_view(views.cancel_retry), name="bo_cancel_retry"
            ),
            path("backoffice/services/markup/", self.admin_view(views.services_markup), name="bo_services_markup"),
            path(
                "backoffice/services/bulk-edit/", self.admin_view(staff_tools.bulk_edit), name="bo_services_bulk_edit"
            ),
            path("backoffice/maintenance/", self.admin_view(staff_tools.maintenance), name="bo_maintenance"),
            path("backoffice/sign-in-as/", self.admin_view(staff_tools.sign_in_as), name="bo_sign_in_as"),
            re_path(
                r"^(?P<old_app>dashboard|backoffice)/(?P<model>[a-z]+)/(?P<rest>.*)$",
                self.admin_view(moved_model_redirect),
            ),
        ]
        return urls + super().get_urls()
