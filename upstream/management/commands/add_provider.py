from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from upstream.services import provider_upsert


def _decimal(name: str, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise CommandError(f"{name} {value!r} is not a number.") from None


class Command(BaseCommand):
    help = "Create or update an upstream provider (the key is stored encrypted and never printed)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--url", required=True, help="The provider's API v2 URL, e.g. https://provider.example/api/v2"
        )
        parser.add_argument("--key", help="The provider's API key (required for a new provider).")
        parser.add_argument("--markup", help="Default markup percent for this provider's services.")
        parser.add_argument("--currency", help="The provider's currency, e.g. USD.")
        parser.add_argument("--rate", help="Panel currency per one unit of the provider's currency.")
        parser.add_argument("--disabled", action="store_true")
        keys = parser.add_mutually_exclusive_group()
        keys.add_argument(
            "--honours-idempotency-keys",
            action="store_true",
            help="The provider answers a repeated idempotency key with the order it already has: "
            "an add whose answer was lost is sent again with the same key.",
        )
        keys.add_argument(
            "--no-idempotency-key",
            action="store_true",
            help="Send no idempotency key (for a provider that refuses unknown parameters).",
        )

    def handle(self, *args, name, url, key, markup, currency, rate, disabled, **options):
        honours_idempotency_keys = options["honours_idempotency_keys"]
        no_idempotency_key = options["no_idempotency_key"]
        try:
            provider, created = provider_upsert(
                name=name,
                api_url=url,
                api_key=key,
                currency=currency,
                exchange_rate=_decimal("--rate", rate),
                markup_percent=_decimal("--markup", markup),
                enabled=False if disabled else None,
                honours_idempotency_keys=True if honours_idempotency_keys else None,
                send_idempotency_key=False if no_idempotency_key else None,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} provider {provider.name} ({provider.api_url}), key {provider.api_key_hint}")
