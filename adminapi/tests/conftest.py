"""Admin API fixtures: staff per role with a token each, and a caller that checks every answer is
JSON in the documented envelope."""

import json

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache

from accounts.models import User
from adminapi.services import token_issue
from backoffice.roles import ensure_roles


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


def staff_with_token(username: str, group: str | None = None, *, superuser: bool = False) -> tuple[User, str]:
    ensure_roles()
    user = User.objects.create_user(username=username, password="pw-Long-enough-1", is_staff=True)
    if superuser:
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
    if group:
        user.groups.add(Group.objects.get(name=group))
    user = User.objects.get(pk=user.pk)
    _, key = token_issue(owner_id=user.pk, name="script", actor=user)
    return user, key


@pytest.fixture
def admin_token(db):
    return staff_with_token("boss", "Admin")


@pytest.fixture
def support_token(db):
    return staff_with_token("helper", "Support")


@pytest.fixture
def bare_token(db):
    return staff_with_token("nobody")


class Answer:
    def __init__(self, response):
        self.status = response.status_code
        assert response["Content-Type"].startswith("application/json"), (self.status, response.content[:300])
        self.json = json.loads(response.content)
        if self.status < 300:
            assert self.json.get("error_code") == 0 and "data" in self.json, self.json
            self.data = self.json["data"]
        else:
            assert set(self.json) == {"error", "error_code"} and self.json["error_code"] == self.status, self.json
            assert isinstance(self.json["error"], str) and self.json["error"]
            self.data = None

    @property
    def error(self) -> str:
        return self.json["error"]


@pytest.fixture
def api(client):
    """api(key, method, path, body=None, **query) -> Answer; path relative to /adminapi/v2/."""

    def call(key, method, path, body=None, headers=None, **params):
        url = f"/adminapi/v2/{path}"
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in (headers or {}).items()}
        if key is not None:
            extra["HTTP_X_API_KEY"] = key
        if method == "get":
            return Answer(client.get(url, params, **extra))
        data = json.dumps(body if body is not None else {})
        return Answer(getattr(client, method)(url, data, content_type="application/json", **extra))

    return call
