"""What a token may do: its owner's backoffice role, as Django permissions (backoffice/roles.py).

Each API class names the permissions each of its methods needs; a superuser has them all.
"""

from rest_framework.permissions import BasePermission

from panel.admin_tools import PERM_CATALOG, PERM_CUSTOMERS, PERM_MONEY, PERM_ORDERS

__all__ = ["PERM_CATALOG", "PERM_CUSTOMERS", "PERM_MONEY", "PERM_ORDERS", "RolePermission"]


class RolePermission(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not getattr(user, "is_staff", False) or not user.is_active:
            return False
        needed = view.required_permissions.get(request.method, ())
        return user.has_perms(needed)
