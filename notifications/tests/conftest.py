"""Local fakes of what notifications talk to: a webhook receiver that checks every signature with
the Standard Webhooks library (as a customer's receiver would), and helpers to raise events."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    """A webhook receiver on 127.0.0.1. `answers` scripts the HTTP statuses it gives, in order
    (then 200); `delay` makes it slow. Every request is kept with whether its signature held."""

    def __init__(self) -> None:
        self.secret = ""
        self.answers: list[int] = []
        self.delay = 0.0
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    event = Webhook(receiver.secret).verify(body, headers)
                    verified = True
                except (WebhookVerificationError, ValueError, KeyError):
                    event, verified = None, False
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": headers, "body": body, "event": event, "verified": verified}
                    )
                    status = receiver.answers.pop(0) if receiver.answers else 200
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/panel"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def events(self) -> list[dict]:
        return [request["event"] for request in self.requests if request["verified"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def endpoint(customer, receiver):
    from notifications.services import webhook_endpoint_save

    endpoint, secret = webhook_endpoint_save(user_id=customer.pk, url=receiver.url, kinds=[])
    receiver.secret = secret
    return endpoint


def payload_of(request: dict) -> dict:
    return json.loads(request["body"])


@pytest.fixture
def bot_api(settings):
    from notifications.tests.fake_telegram import FakeBotAPI

    fake = FakeBotAPI()
    settings.TELEGRAM_API_URL = fake.url
    yield fake
    fake.close()


@pytest.fixture
def telegram_bot(db, bot_api):
    from notifications.services import telegram_bot_save

    bot_api.chats.add(-1009)  # the staff group, where the bot was added
    return telegram_bot_save(token=bot_api.token, staff_chat_id="-1009", enabled=True)
