"""Local fakes of the payment gateways, for tests and the demo: never the real services.

Each module here (one per gateway code in billing.gateways.GATEWAYS) holds:

- a fake server that speaks the gateway's documented HTTP API on 127.0.0.1 (a thread running a
  plain WSGI/HTTP server), keeping payments in memory and signing what it sends exactly as the
  gateway's public documentation describes;
- a ``Driver`` class, which the gateway-independent flow tests (billing/tests/test_gateway_flows.py)
  use to play the customer and the gateway. Its shape:

      class Driver:
          code: str                       # the gateway code, e.g. "paypal"
          currency: str                   # a currency the gateway charges in, for the tests
          def __enter__(self) -> "Driver" # starts the fake server
          def __exit__(self, *exc) -> None
          base_url: str                   # the fake's address, passed to the gateway class
          def config(self) -> dict[str, str]
              # PaymentMethod settings (by Field.name) matching the fake's merchant account
          def pay(self, checkout: Checkout, *, amount: Decimal | None = None,
                  currency: str | None = None) -> None
              # the customer pays what the checkout asks (or `amount`/`currency` instead: an
              # underpayment, overpayment or another currency) on the fake
          def notification(self, checkout: Checkout, *, outcome: str = "paid") -> Incoming
              # the notification the gateway sends after pay() (outcome "paid", or "failed",
              # "refunded", "chargeback" where the gateway has them), signed as documented
          def tamper(self, incoming: Incoming) -> Incoming
              # the same notification with its amount changed and the signature left as it was
          outcomes: tuple[str, ...]       # optional; ("paid",) when absent
              # the outcomes notification() can send for this gateway, e.g. ("paid", "failed",
              # "refunded", "chargeback"); the flow tests skip, by name, a case whose outcome
              # the driver does not list (a gateway without chargebacks has no chargeback test)

How the tests reach a fake: the gateway class takes ``base_url`` (its API address), and billing
builds every gateway with ``settings.PAYMENT_GATEWAY_BASE_URLS.get(code)`` as that address
(billing.payments.methods.gateway_for). A test starts the driver and sets
``settings.PAYMENT_GATEWAY_BASE_URLS = {driver.code: driver.base_url}`` (pytest-django's
``settings`` fixture restores it afterwards); the demo sets it for the fakes it starts. Left unset
(production), every gateway talks to its real address.

``DRIVERS`` maps gateway codes to "module:Class" for the drivers that exist.
"""

from importlib import import_module

DRIVERS: dict[str, str] = {
    "stripe": "testing.gateways.stripe:Driver",
    "paypal": "testing.gateways.paypal:Driver",
    "cryptomus": "testing.gateways.cryptomus:Driver",
    "perfectmoney": "testing.gateways.perfectmoney:Driver",
    "payeer": "testing.gateways.payeer:Driver",
    "razorpay": "testing.gateways.razorpay:Driver",
    "paystack": "testing.gateways.paystack:Driver",
}


def available_drivers() -> list[str]:
    """The gateway codes whose driver module can be imported (all of them once every gateway lands)."""
    codes = []
    for code, target in DRIVERS.items():
        try:
            import_module(target.partition(":")[0])
        except ModuleNotFoundError:
            continue
        codes.append(code)
    return codes


def driver_class(code: str):
    module_name, _, class_name = DRIVERS[code].partition(":")
    return getattr(import_module(module_name), class_name)
