"""Admin API tokens in the backoffice: each staff member issues, rotates and revokes their own
(a superuser anyone's); a new key is shown once, on its own page, and never again."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.models import User

from .models import StaffToken
from .services import TokenRefused, token_issue, token_revoke, token_rotate


class IssueForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("What the script is, e.g. “fulfilment worker 1”."),
    )
    user = forms.ModelChoiceField(
        label=gettext_lazy("User"),
        queryset=User.objects.filter(is_staff=True, is_active=True).order_by("username"),
        required=False,
        help_text=gettext_lazy("Superusers only: issue it for another staff member (default: yourself)."),
    )


@admin.register(StaffToken)
class StaffTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix_shown", "created_at", "last_used_at", "state", "buttons")
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__username")
    actions = None

    def get_queryset(self, request):
        tokens = super().get_queryset(request)
        return tokens if request.user.is_superuser else tokens.filter(user=request.user)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and (
            obj is None or request.user.is_superuser or obj.user_id == request.user.pk
        )

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("Key"))
    def prefix_shown(self, obj):
        return f"{obj.prefix}…"

    @admin.display(description=gettext_lazy("State"))
    def state(self, obj):
        if obj.active:
            return _("active")
        return _("revoked %(when)s") % {"when": f"{obj.revoked_at:%Y-%m-%d %H:%M}"}

    @admin.display(description="")
    def buttons(self, obj):
        if not obj.active:
            return ""
        rotate = reverse("admin:adminapi_stafftoken_rotate", args=[obj.pk])
        revoke = reverse("admin:adminapi_stafftoken_revoke", args=[obj.pk])
        return format_html(
            '<button type="button" class="button bo-post" data-url="{}">{}</button> '
            '<button type="button" class="button bo-post bo-danger" data-url="{}">{}</button>',
            rotate,
            _("Rotate"),
            revoke,
            _("Revoke"),
        )

    def get_urls(self):
        own = [
            path(
                "<int:token_id>/rotate/",
                self.admin_site.admin_view(self.rotate_view),
                name="adminapi_stafftoken_rotate",
            ),
            path(
                "<int:token_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="adminapi_stafftoken_revoke",
            ),
        ]
        return own + super().get_urls()

    def _shown_once(self, request, token, key):
        context = {
            **self.admin_site.each_context(request),
            "title": _("Admin API token “%(name)s”") % {"name": token.name},
            "token": token,
            "key": key,
            "back": reverse("admin:adminapi_stafftoken_changelist"),
        }
        return TemplateResponse(request, "adminapi/token_key.html", context)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = IssueForm(request.POST or None)
        if not request.user.is_superuser:
            del form.fields["user"]
        if request.method == "POST" and form.is_valid():
            owner = form.cleaned_data.get("user") or request.user
            try:
                token, key = token_issue(owner_id=owner.pk, name=form.cleaned_data["name"], actor=request.user)
            except TokenRefused as exc:
                form.add_error(None, exc.translated())
            else:
                return self._shown_once(request, token, key)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Issue an Admin API token"),
            "form": form,
            "back": reverse("admin:adminapi_stafftoken_changelist"),
        }
        return TemplateResponse(request, "adminapi/token_issue.html", context)

    def rotate_view(self, request, token_id: int):
        return require_POST(self._rotate)(request, token_id)

    def _rotate(self, request, token_id: int):
        get_object_or_404(self.get_queryset(request), pk=token_id)
        try:
            token, key = token_rotate(token_id=token_id, actor=request.user)
        except TokenRefused as exc:
            messages.error(request, exc.translated())
            return HttpResponseRedirect(reverse("admin:adminapi_stafftoken_changelist"))
        return self._shown_once(request, token, key)

    def revoke_view(self, request, token_id: int):
        return require_POST(self._revoke)(request, token_id)

    def _revoke(self, request, token_id: int):
        token = get_object_or_404(self.get_queryset(request), pk=token_id)
        try:
            token_revoke(token_id=token.pk, actor=request.user)
            messages.success(request, _("Token “%(name)s” revoked: its key no longer works.") % {"name": token.name})
        except TokenRefused as exc:
            messages.error(request, exc.translated())
        return HttpResponseRedirect(reverse("admin:adminapi_stafftoken_changelist"))
