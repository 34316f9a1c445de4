"""What the billing admins share: the money permission on writes, and raw payloads shown as JSON."""

import json

from django.utils.html import format_html

from panel.admin_tools import PERM_MONEY


class MoneyPermission:
    """Staff who may move money change these rows and run their actions; others look."""

    def has_money_permission(self, request):
        return request.user.has_perm(PERM_MONEY)

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm(PERM_MONEY) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(PERM_MONEY) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm(PERM_MONEY) and super().has_delete_permission(request, obj)


def pretty_payload(obj) -> str:
    return format_html(
        '<pre style="white-space:pre-wrap;max-height:40em;overflow:auto">{}</pre>',
        json.dumps(obj.payload, indent=2, sort_keys=True),
    )
