"""The API page of the dashboard: documentation built from api/schema.py, and key management."""

import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.services import api_key_rotate

from . import schema


def _context(request: HttpRequest, new_key: str | None = None) -> dict:
    url = request.build_absolute_uri(reverse("api:v2"))
    actions = [{**action, "answer_json": json.dumps(action["answer"], indent=2)} for action in schema.actions()]
    return {
        "api_url": url,
        "openapi_url": request.build_absolute_uri(reverse("api:openapi")),
        "actions": actions,
        "add_params": schema.ADD_PARAMS,
        "errors": schema.ERRORS,
        "key_in_url": settings.API_ALLOW_KEY_IN_URL,
        "new_key": new_key,
    }


def docs(request: HttpRequest) -> HttpResponse:
    return render(request, "api/docs.html", _context(request))


@login_required
@require_POST
def key_rotate(request: HttpRequest) -> HttpResponse:
    new_key = api_key_rotate(user=request.user)
    request.user.refresh_from_db()
    # Rendered, not redirected: the key is shown in this one answer and never again.
    response = render(request, "api/docs.html", _context(request, new_key=new_key))
    response["Cache-Control"] = "no-store"
    return response


def openapi_document(request: HttpRequest) -> JsonResponse:
    return JsonResponse(schema.openapi(request.build_absolute_uri("/")), json_dumps_params={"indent": 2})
