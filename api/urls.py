from django.urls import path

from . import apis, views

app_name = "api"

urlpatterns = [
    path("v2", apis.api_v2, name="v2"),
    # Some panel software appends a slash; answer there too rather than with a redirect or a 404.
    path("v2/", apis.api_v2),
    path("", views.docs, name="docs"),
    path("key/rotate", views.key_rotate, name="key_rotate"),
    path("openapi.json", views.openapi_document, name="openapi"),
]
