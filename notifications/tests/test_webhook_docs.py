"""The verification snippets of the Webhooks page work: the Python one checks a real delivery, and
the PHP one, served by PHP's own web server, is the receiver a real event is delivered to."""

import shutil
import socket
import subprocess
import time

import pytest

from notifications import docs
from notifications.models import Delivery
from notifications.services import webhook_endpoint_save, webhook_test_send


def python_verify(secret: str):
    namespace: dict = {}
    exec(docs.PYTHON_SNIPPET.replace('"whsec_..."', repr(secret)), namespace)
    return namespace["verify"]


def test_the_python_snippet_verifies_a_real_delivery(customer, endpoint, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        webhook_test_send(user_id=customer.pk)
    request = receiver.requests[0]
    verify = python_verify(receiver.secret)
    event = verify(request["body"], request["headers"])
    assert event["type"] == "webhook.test" and event["id"] == request["headers"]["webhook-id"]
    with pytest.raises(ValueError, match="bad signature"):
        verify(request["body"].replace(b"test", b"tesT"), request["headers"])
    with pytest.raises(ValueError, match="bad signature"):
        python_verify("whsec_" + "A" * 32)(request["body"], request["headers"])
    with pytest.raises(ValueError, match="too old"):
        verify(request["body"], {**request["headers"], "webhook-timestamp": str(int(time.time()) - 301)})


PHP = shutil.which("php") or shutil.which("php8.2")


@pytest.fixture
def php_receiver(tmp_path):
    if PHP is None:
        pytest.skip("php is not installed (apt-get install php-cli)")
    script = tmp_path / "index.php"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [PHP, "-S", f"127.0.0.1:{port}", str(script)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)

    def serve(secret: str) -> str:
        script.write_text(docs.PHP_SNIPPET.replace("'whsec_...'", f"'{secret}'"))
        return f"http://127.0.0.1:{port}/"

    yield serve
    server.terminate()
    server.wait(timeout=5)


def test_the_php_snippet_accepts_our_deliveries_and_refuses_others(
    customer, php_receiver, django_capture_on_commit_callbacks
):
    endpoint, secret = webhook_endpoint_save(user_id=customer.pk, url="http://127.0.0.1:1/", kinds=[])
    endpoint.url = php_receiver(secret)
    endpoint.save()
    with django_capture_on_commit_callbacks(execute=True):
        webhook_test_send(user_id=customer.pk)
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.last_status) == ("sent", 204)

    php_receiver("whsec_" + "A" * 32)  # the receiver holds another secret: refused
    with django_capture_on_commit_callbacks(execute=True):
        webhook_test_send(user_id=customer.pk)
    refused = Delivery.objects.exclude(pk=delivery.pk).get()
    assert (refused.state, refused.last_status) == ("pending", 400)
