"""The merchant-form gateways (Perfect Money, Payeer) in a real browser: chromium auto-submits the
pay page's form to the local fake, which accepts it as the gateway would (fields, signature,
encrypted m_params); the customer's return asks the gateway server to server and credits once;
the notification arriving afterwards changes nothing.

The site-wide Content-Security-Policy allows forms to post only to us; the pay page alone adds
its own form's gateway origin (here the fake's) to form-action, and the test leaves the policy
as it is configured, so a missing origin shows as a blocked form and a console violation."""

from decimal import Decimal

import pytest
from django.test import Client
from playwright.sync_api import expect

from accounts.models import User
from billing import payments
from billing.gateways import gateway_class
from billing.models import Deposit, PaymentMethod
from testing.fixtures import BROWSER_MARKS, page_logged_in_as, screenshot
from testing.gateways import driver_class

pytestmark = BROWSER_MARKS

DESKTOP = {"width": 1280, "height": 800}


def method_for(driver) -> PaymentMethod:
    """A payment method with the driver's settings, the secret ones stored encrypted."""
    secret = {field.name for field in gateway_class(driver.code).fields if field.secret}
    config = driver.config()
    method = PaymentMethod(
        name=gateway_class(driver.code).label,
        kind=driver.code,
        currency=driver.currency,
        settings={k: v for k, v in config.items() if k not in secret},
    )
    method.set_secret_values({k: v for k, v in config.items() if k in secret})
    method.save()
    return method


@pytest.mark.parametrize("code", ["perfectmoney", "payeer"])
def test_pay_in_the_browser_return_and_late_notification(code, browser, live_server, settings, plain_static_storage):
    with driver_class(code)() as driver:
        settings.PAYMENT_GATEWAY_BASE_URLS = {code: driver.base_url}
        method = method_for(driver)
        user = User.objects.create_user("buyer", "buyer@example.com", "a-Long-pass-123")
        deposit = payments.deposit_create(user=user, method=method, amount=Decimal("10"))
        checkout = payments.deposit_start(
            deposit=deposit,
            return_url=f"{live_server.url}/funds/deposits/{deposit.pk}/",
            cancel_url=f"{live_server.url}/funds/",
            notify_url=f"{live_server.url}/payments/notify/{method.pk}/",
        )

        page = page_logged_in_as(browser, live_server, user, viewport=DESKTOP)
        violations = []
        page.on(
            "console", lambda message: violations.append(message.text) if "Content Security" in message.text else None
        )
        page.goto(f"{live_server.url}/funds/deposits/{deposit.pk}/pay/", wait_until="commit")
        # The page posts itself to the gateway, which takes the payment.
        expect(page.locator("body")).to_contain_text("Payment complete", timeout=15_000)
        assert page.url.startswith(driver.base_url)
        assert violations == []
        posted = [
            r for r in driver.fake.http.requests if r.method == "POST" and r.path.endswith(("step1.asp", "/merchant/"))
        ]
        assert len(posted) == 1
        screenshot(page, f"gateway-{code}-paid-at-fake")

        # Back at the panel: the return page asks the gateway (look-up) and credits.
        page.goto(f"{live_server.url}/funds/deposits/{deposit.pk}/")
        expect(page.locator("body")).to_contain_text("Payment succeeded")
        screenshot(page, f"gateway-{code}-returned")
        deposit.refresh_from_db()
        user.refresh_from_db()
        assert deposit.status == Deposit.Status.PAID
        assert user.balance == Decimal("10")

        # The gateway's notification comes later: acknowledged, nothing credited twice.
        incoming = driver.notification(checkout)
        answer = Client().post(
            f"/payments/notify/{method.pk}/",
            data=incoming.body,
            content_type="application/x-www-form-urlencoded",
            REMOTE_ADDR="127.0.0.1",
        )
        assert answer.status_code == 200
        assert answer.content.decode() == {"perfectmoney": "OK", "payeer": f"{deposit.pk}|success"}[code]
        user.refresh_from_db()
        assert user.balance == Decimal("10")
        page.context.close()
