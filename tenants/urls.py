from django.urls import path

from . import views

urlpatterns = [
    path("tls/allowed", views.tls_allowed, name="tls_allowed"),
]
