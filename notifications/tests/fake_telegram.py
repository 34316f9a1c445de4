"""A local fake of the Telegram Bot API, as its documentation describes it.

Requests are `POST /bot<token>/<method>` with a JSON body; answers are JSON objects with `ok`
and `result`, or `ok: false` with `error_code` and `description` (a 429 also carries
`parameters.retry_after`). getUpdates returns the updates from `offset` on and forgets those
below it (confirmed); sendMessage answers "chat not found" for a chat that never wrote to the bot.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeBotAPI:
    def __init__(self, token: str = "123456:TEST-fake-token", username: str = "panel_test_bot") -> None:
        self.token = token
        self.username = username
        self.sent: list[dict] = []  # every sendMessage that succeeded
        self.calls: list[str] = []  # every method called
        self.updates: list[dict] = []
        self.chats: set[int] = set()
        self.fail: list[tuple[int, str]] = []  # scripted errors for the next sendMessage calls
        self.lock = threading.Lock()
        self._update_id = 700000
        self._message_id = 1
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # the Bot API takes GET and POST; the panel POSTs JSON
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    params = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    params = {}
                status, body = fake.handle(self.path, params)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- what people do in Telegram -----------------------------------------------------------

    def user_sends(self, chat_id: int, text: str, *, username: str = "alice") -> None:
        with self.lock:
            self.chats.add(chat_id)
            self._update_id += 1
            self._message_id += 1
            self.updates.append(
                {
                    "update_id": self._update_id,
                    "message": {
                        "message_id": self._message_id,
                        "from": {"id": chat_id, "is_bot": False, "first_name": "Alice", "username": username},
                        "chat": {"id": chat_id, "first_name": "Alice", "username": username, "type": "private"},
                        "date": int(time.time()),
                        "text": text,
                    },
                }
            )

    def messages_to(self, chat_id) -> list[str]:
        return [message["text"] for message in self.sent if str(message["chat_id"]) == str(chat_id)]

    # --- the API ---------------------------------------------------------------------------------

    @staticmethod
    def error(code: int, description: str, **extra) -> tuple[int, dict]:
        return code, {"ok": False, "error_code": code, "description": description, **extra}

    def handle(self, path: str, params: dict) -> tuple[int, dict]:
        prefix, _, method = path.lstrip("/").partition("/")
        with self.lock:
            self.calls.append(method)
            if prefix != f"bot{self.token}":
                return self.error(401, "Unauthorized")
            if method == "getMe":
                return 200, {
                    "ok": True,
                    "result": {"id": 123456, "is_bot": True, "first_name": "Panel", "username": self.username},
                }
            if method == "getUpdates":
                offset = int(params.get("offset") or 0)
                self.updates = [update for update in self.updates if update["update_id"] >= offset]
                return 200, {"ok": True, "result": list(self.updates[: int(params.get("limit") or 100)])}
            if method == "sendMessage":
                if self.fail:
                    code, description = self.fail.pop(0)
                    extra = {"parameters": {"retry_after": 3}} if code == 429 else {}
                    return self.error(code, description, **extra)
                chat_id = params.get("chat_id")
                text = params.get("text")
                if not text:
                    return self.error(400, "Bad Request: message text is empty")
                if int(chat_id) not in self.chats:
                    return self.error(400, "Bad Request: chat not found")
                self._message_id += 1
                self.sent.append({"chat_id": chat_id, "text": text})
                return 200, {
                    "ok": True,
                    "result": {
                        "message_id": self._message_id,
                        "date": int(time.time()),
                        "chat": {"id": int(chat_id), "type": "private"},
                        "text": text,
                    },
                }
            return self.error(404, "Not Found")
