from django.contrib import admin


class PanelAdminSite(admin.AdminSite):
    site_header = "Panel backoffice"
    site_title = "Panel backoffice"
