"""The Admin API's OpenAPI document: drf-spectacular builds it from the API classes and their
serializers (adminapi/urls.py serves it at /adminapi/v2/openapi.json); this module tells it how
the key is sent."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

DESCRIPTION = (
    "The Admin API v2 for staff scripts. Send your staff token in the `X-Api-Key` header (issue one in the "
    'backoffice under Admin API tokens; it acts with your role). Answers are `{"data": ..., "error_code": 0}`; '
    'errors are `{"error": "...", "error_code": <HTTP status>}` with that HTTP status (400 bad input, '
    "401 no or unknown key, 403 the role does not allow it, 404, 409 the order changed since you read it or "
    "another worker holds it, 429 over the rate limit)."
)


class StaffTokenScheme(OpenApiAuthenticationExtension):
    target_class = "adminapi.authentication.StaffTokenAuthentication"
    name = "StaffToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-Api-Key"}
