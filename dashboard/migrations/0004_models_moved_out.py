"""The dashboard keeps no models: billing and support took over its tables and rows (their
0001 migrations); the dashboard forgets the models in the migration state only."""

from django.db import migrations

FIELDS = [
    ("commission", "affiliate"),
    ("commission", "deposit"),
    ("commission", "gateway_payment"),
    ("commission", "referred"),
    ("depositrequest", "decided_by"),
    ("depositrequest", "method"),
    ("depositrequest", "user"),
    ("ticket", "deposit"),
    ("gatewayevent", "payment"),
    ("gatewaypayment", "user"),
    ("ticket", "order"),
    ("ticket", "user"),
    ("ticketmessage", "ticket"),
    ("ticketmessage", "author"),
]
MODELS = [
    "Affiliate",
    "Commission",
    "PaymentMethod",
    "DepositRequest",
    "GatewayEvent",
    "GatewayPayment",
    "Ticket",
    "TicketMessage",
]


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0003_stripe_method"),
        ("billing", "0001_initial"),
        ("support", "0001_initial"),
        ("backoffice", "0003_models_moved_out"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                *(migrations.RemoveField(model_name=model, name=field) for model, field in FIELDS),
                *(migrations.DeleteModel(name=name) for name in MODELS),
            ],
            database_operations=[],
        ),
    ]
