"""A local stand-in for Google's OAuth 2.0 / OpenID Connect endpoints, over real HTTP.

It follows the documented web-server flow (RFC 6749 section 4.1 with PKCE, RFC 7636): the
authorization endpoint takes client_id, redirect_uri, response_type=code, scope (with openid),
state and code_challenge, and redirects back with code and state (as if the person agreed);
the token endpoint takes grant_type=authorization_code, code, redirect_uri, client_id,
client_secret and code_verifier, and answers access_token, expires_in, token_type, scope and an
id_token whose claims are Google's (iss https://accounts.google.com, aud = client ID, sub,
email, email_verified, name). Codes are single-use.
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt

ISSUER = "https://accounts.google.com"


class FakeGoogle:
    def __init__(self, *, client_id: str, client_secret: str, person: dict):
        self.client_id, self.client_secret, self.person = client_id, client_secret, person
        self.codes: dict[str, dict] = {}
        self.token_calls = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body=b"", headers=None):
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urlsplit(self.path)
                if url.path != "/o/oauth2/v2/auth":
                    return self._send(404)
                q = {k: v[-1] for k, v in parse_qs(url.query).items()}
                if q.get("client_id") != fake.client_id or q.get("response_type") != "code":
                    return self._send(400, b"invalid_client")
                if "openid" not in q.get("scope", "").split() or q.get("code_challenge_method") != "S256":
                    return self._send(400, b"invalid_request")
                code = secrets.token_urlsafe(16)
                fake.codes[code] = {"redirect_uri": q["redirect_uri"], "challenge": q["code_challenge"]}
                target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")})
                return self._send(302, headers={"Location": target})

            def do_POST(self):
                if urlsplit(self.path).path != "/token":
                    return self._send(404)
                fake.token_calls += 1
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                grant = fake.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if (
                    form.get("grant_type") != "authorization_code"
                    or form.get("client_id") != fake.client_id
                    or form.get("client_secret") != fake.client_secret
                    or grant is None
                    or grant["redirect_uri"] != form.get("redirect_uri")
                    or digest != grant["challenge"]
                ):
                    body = json.dumps({"error": "invalid_grant", "error_description": "Bad Request"}).encode()
                    return self._send(400, body, {"Content-Type": "application/json"})
                now = int(time.time())
                claims = {"iss": ISSUER, "aud": fake.client_id, "azp": fake.client_id, "iat": now, "exp": now + 3600}
                id_token = jwt.encode(claims | fake.person, "fake-google-signing-key-not-secret", algorithm="HS256")
                body = json.dumps(
                    {
                        "access_token": secrets.token_urlsafe(24),
                        "expires_in": 3599,
                        "token_type": "Bearer",
                        "scope": "openid https://www.googleapis.com/auth/userinfo.email",
                        "id_token": id_token,
                    }
                ).encode()
                return self._send(200, body, {"Content-Type": "application/json"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
