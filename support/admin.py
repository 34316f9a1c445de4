from django import forms
from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User

from .models import Ticket, TicketAssignment, TicketMessage
from .services import ticket_assign, ticket_close_by_staff, ticket_reply


class TicketMessageInline(admin.TabularInline):
    model = TicketMessage
    extra = 1
    fields = ("created_at", "author", "is_staff", "body", "files")
    readonly_fields = ("created_at", "author", "is_staff", "files")

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Attachments"))
    def files(self, obj):
        # Served by the dashboard's attachment view, which lets staff read any ticket's files.
        if obj is None or obj.pk is None:
            return "-"
        links = [
            format_html(
                '<a href="{}" target="_blank" rel="noopener">{}</a> ({})',
                reverse("dashboard:ticket_attachment", args=[a.pk]) + ("" if a.is_image else "?download=1"),
                a.name,
                filesizeformat(a.size),
            )
            for a in obj.attachments.all()
        ]
        return format_html_join(mark_safe("<br>"), "{}", ((link,) for link in links)) if links else "-"


class TicketForm(forms.ModelForm):
    # A plain field rather than an inline, so a form posted without it leaves the assignment alone.
    assignee = forms.ModelChoiceField(
        queryset=User.objects.filter(is_staff=True, is_active=True), required=False, label=_("Assigned to")
    )

    class Meta:
        model = Ticket
        fields = ("subject", "topic", "status")


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("id", "subject", "user", "topic", "order", "status", "assignee", "updated_at")
    list_filter = ("status", "topic", "assignment__assignee")
    search_fields = ("subject", "user__username", "=id")
    list_select_related = ("user", "assignment__assignee")
    readonly_fields = ("user", "order", "deposit", "created_at", "updated_at")
    form = TicketForm
    inlines = [TicketMessageInline]
    actions = ["assign_to_me", "close"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        assignment = TicketAssignment.objects.filter(ticket=obj).first() if obj else None
        form.base_fields["assignee"].initial = assignment.assignee_id if assignment else None
        return form

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "assignee" in request.POST:
            assignee = form.cleaned_data["assignee"]
            ticket_assign(ticket_id=obj.pk, assignee_id=assignee.pk if assignee else None)

    def save_formset(self, request, form, formset, change):
        # Staff replies typed into the inline go through the same service as customers' replies.
        for message in formset.save(commit=False):
            if message.pk is None and message.body.strip():
                ticket_reply(ticket=form.instance, author=request.user, body=message.body)

    @admin.display(description=_("Assigned to"), ordering="assignment__assignee__username")
    def assignee(self, obj):
        assignment = getattr(obj, "assignment", None)
        return assignment.assignee if assignment else "—"

    @admin.action(description=_("Assign the selected tickets to me"), permissions=["change"])
    def assign_to_me(self, request, queryset):
        for ticket_id in queryset.values_list("pk", flat=True):
            ticket_assign(ticket_id=ticket_id, assignee_id=request.user.pk)
        count = queryset.count()
        self.message_user(
            request,
            ngettext("%(count)s ticket assigned to you.", "%(count)s tickets assigned to you.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Close the selected tickets"), permissions=["change"])
    def close(self, request, queryset):
        actor_id = request.user.pk
        done = sum(
            ticket_close_by_staff(ticket_id=pk, actor_id=actor_id) for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(
            request,
            ngettext("%(count)s ticket closed.", "%(count)s tickets closed.", done) % {"count": done},
            messages.SUCCESS,
        )
