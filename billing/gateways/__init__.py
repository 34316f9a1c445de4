"""One module per payment gateway: configuration, the calls to the gateway, and verifying its
notifications. No database: billing.services decides what the answers mean."""
