"""One module per payment gateway, each a class implementing billing.gateways.base.Gateway:
configuration, the calls to the gateway, and verifying its notifications. No database here:
billing decides what the answers mean, the same way for every gateway."""

from importlib import import_module

# code (stored on PaymentMethod.kind) -> "module:Class", imported on first use.
GATEWAYS: dict[str, str] = {
    "stripe": "billing.gateways.stripe:StripeGateway",
    "paypal": "billing.gateways.paypal:PayPalGateway",
    "cryptomus": "billing.gateways.cryptomus:CryptomusGateway",
    "perfectmoney": "billing.gateways.perfectmoney:PerfectMoneyGateway",
    "payeer": "billing.gateways.payeer:PayeerGateway",
    "razorpay": "billing.gateways.razorpay:RazorpayGateway",
    "paystack": "billing.gateways.paystack:PaystackGateway",
}


def gateway_class(code: str):
    """The class for a gateway code; KeyError for an unknown code."""
    module_name, _, class_name = GATEWAYS[code].partition(":")
    return getattr(import_module(module_name), class_name)
