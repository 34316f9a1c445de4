from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .markdown import render_markdown
from .models import Branding, Page
from .services import LogoRefused, branding_save, logo_png


class BrandingForm(forms.ModelForm):
    # Checked by content (Pillow re-encodes it), not by the file name.
    logo = forms.FileField(
        label=_("Logo"),
        required=False,
        help_text=_("PNG, JPEG, GIF or WebP up to 512 KB; stored as a PNG of 256 px at most."),
    )
    clear_logo = forms.BooleanField(label=_("Remove the logo"), required=False)

    class Meta:
        model = Branding
        fields = ("panel_name", "tagline", "intro", "primary_colour", "accent_colour", "show_public_services")
        widgets = {
            "primary_colour": forms.TextInput(attrs={"type": "color"}),
            "accent_colour": forms.TextInput(attrs={"type": "color"}),
        }

    def clean_logo(self):
        upload = self.cleaned_data.get("logo")
        if not upload:
            return None
        data = upload.read()
        try:
            logo_png(data)
        except LogoRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(Branding)
class BrandingAdmin(admin.ModelAdmin):
    form = BrandingForm
    readonly_fields = ("current_logo", "updated_at")

    def has_add_permission(self, request):
        return not Branding.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Current logo"))
    def current_logo(self, obj):
        if not obj or not obj.logo_version:
            return "-"
        return format_html('<img src="/brand/logo-{}.png" alt="" height="48">', obj.logo_version)

    def save_model(self, request, obj, form, change):
        branding_save(
            actor_id=request.user.pk,
            row=obj,
            logo=form.cleaned_data.get("logo"),
            clear_logo=form.cleaned_data.get("clear_logo", False),
        )


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "slug", "published", "published_at", "updated_at")
    list_filter = ("kind", "published")
    search_fields = ("title", "slug")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("preview",)
    fieldsets = (
        (None, {"fields": ("kind", "title", "slug", "body", "preview", "published", "published_at")}),
        (_("Search engines"), {"fields": ("seo_title", "seo_description")}),
    )

    @admin.display(description=_("Preview (as visitors see it, after sanitising)"))
    def preview(self, obj):
        return render_markdown(obj.body) if obj and obj.body else "-"
