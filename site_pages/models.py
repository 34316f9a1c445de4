"""The public face: staff-edited pages (Markdown) and the panel's branding."""

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour is # and six hex digits, such as #4f46e5."))


class Branding(models.Model):
    """One row (pk 1): what the dashboard, public pages and emails call the panel and how they look."""

    panel_name = models.CharField(
        _("panel name"), max_length=60, blank=True, help_text=_("Empty: the PANEL_NAME setting.")
    )
    tagline = models.CharField(_("tagline"), max_length=160, blank=True)
    intro = models.TextField(
        _("landing text"), blank=True, help_text=_("Markdown, shown under the tagline on the landing page.")
    )
    primary_colour = models.CharField(_("primary colour"), max_length=7, default="#4f46e5", validators=[hex_colour])
    accent_colour = models.CharField(_("accent colour"), max_length=7, default="#a855f7", validators=[hex_colour])
    # A re-encoded PNG kept in the database: no media storage to serve or secure, and a small logo.
    logo_png = models.BinaryField(_("logo"), blank=True, default=b"", editable=False)
    logo_version = models.PositiveIntegerField(_("logo version"), default=0, editable=False)
    show_public_services = models.BooleanField(
        _("show services and prices to visitors"), default=False, help_text=_("A short list on the landing page.")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("branding")
        verbose_name_plural = _("branding")
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="branding_single_row")]

    def __str__(self) -> str:
        return str(_("Branding"))


class Page(models.Model):
    class Kind(models.TextChoices):
        FAQ = "faq", _("FAQ")
        TERMS = "terms", _("Terms of service")
        PRIVACY = "privacy", _("Privacy policy")
        NEWS = "news", _("News")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    slug = models.SlugField(
        _("address"), max_length=80, unique=True, help_text=_("The news item's address: /news/<address>/.")
    )
    title = models.CharField(_("title"), max_length=160)
    body = models.TextField(_("content"), help_text=_("Markdown. Raw HTML, scripts and javascript: links are removed."))
    seo_title = models.CharField(_("SEO title"), max_length=70, blank=True, help_text=_("Empty: the title."))
    seo_description = models.CharField(_("SEO description"), max_length=160, blank=True)
    published = models.BooleanField(_("published"), default=False)
    published_at = models.DateTimeField(_("published at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("page")
        verbose_name_plural = _("pages")
        ordering = ["-published_at", "-id"]
        indexes = [models.Index(fields=["kind", "published", "-published_at"], name="page_kind_pub")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        if self.kind == self.Kind.NEWS:
            return reverse("site_pages:news_item", args=[self.slug])
        return reverse(f"site_pages:{self.kind}")
