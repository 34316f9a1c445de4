"""What the Admin API answers and accepts, as DRF serializers (which the OpenAPI document is built
from). Field names follow the hosted leader's Admin API v2 where it is known: `id`, `user`,
`service_id`, `service_name`, `link`, `quantity`, `start_count`, `remains`, `status`,
`charge` {value, currency_code}, `external_id`, `created_timestamp`, `comments`."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.pricing import unit_cost
from orders.manual import order_version
from orders.models import ForwardState
from panel.tenancy import panel_currency

MONEY = {"max_digits": 18, "decimal_places": 5}


class ChargeSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="What the customer was charged, 5 decimals.")
    currency_code = serializers.CharField()


class ProviderRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class OrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user = serializers.CharField(source="user.username", help_text="The customer's username.")
    customer_id = serializers.IntegerField(source="user_id")
    service_id = serializers.IntegerField()
    service_name = serializers.CharField(source="service.name")
    manual = serializers.SerializerMethodField(help_text="A manual service's order: staff fulfil it.")
    link = serializers.CharField(help_text="As the customer typed it.")
    quantity = serializers.IntegerField(help_text="Per run for drip-feed orders.")
    runs = serializers.IntegerField(allow_null=True)
    interval = serializers.IntegerField(allow_null=True)
    comments = serializers.SerializerMethodField(help_text="Custom comments, one per line, as counted.")
    params = serializers.DictField(help_text="The type's parameters as the customer gave them.")
    charge = serializers.SerializerMethodField()
    refunded = serializers.DecimalField(**MONEY, coerce_to_string=True)
    start_count = serializers.IntegerField(allow_null=True)
    remains = serializers.IntegerField(allow_null=True)
    status = serializers.CharField(help_text="Pending, In progress, Processing, Completed, Partial or Canceled.")
    provider = serializers.SerializerMethodField()
    external_id = serializers.CharField(source="upstream_order_id", help_text="The provider's order ID.")
    created = serializers.DateTimeField(source="created_at")
    created_timestamp = serializers.SerializerMethodField()
    claimed_by = serializers.SerializerMethodField(help_text="Who took (pulled) the manual order.")
    claimed_until = serializers.DateTimeField(allow_null=True, help_text="When the claim's lease lapses.")
    version = serializers.SerializerMethodField(help_text="Send it back with an update: 409 if the order changed.")

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_manual(self, order) -> bool:
        return order.forward_state == ForwardState.MANUAL

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_comments(self, order):
        return (order.params or {}).get("comments")

    @extend_schema_field(ChargeSerializer)
    def get_charge(self, order):
        return {"value": f"{order.charge:.5f}", "currency_code": panel_currency()}

    @extend_schema_field(ProviderRefSerializer(allow_null=True))
    def get_provider(self, order):
        if order.provider_id is None:
            return None
        return {"id": order.provider_id, "name": order.provider.name}

    @extend_schema_field(OpenApiTypes.INT)
    def get_created_timestamp(self, order) -> int:
        return int(order.created_at.timestamp())

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_claimed_by(self, order):
        return order.claimed_by.username if order.claimed_by_id else None

    @extend_schema_field(OpenApiTypes.STR)
    def get_version(self, order) -> str:
        return order_version(order)


class OrderUpdateSerializer(serializers.Serializer):
    version = serializers.CharField(max_length=32, help_text="The order's `version` as you read it.")
    status = serializers.CharField(max_length=32, required=False, help_text="In progress, Processing, Completed, ...")
    start_count = serializers.IntegerField(min_value=0, max_value=2**62, required=False, allow_null=True)
    remains = serializers.IntegerField(min_value=0, max_value=2**62, required=False, allow_null=True)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class OrderUpdateItemSerializer(OrderUpdateSerializer):
    id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class OrdersUpdateSerializer(serializers.Serializer):
    orders = OrderUpdateItemSerializer(many=True, allow_empty=False, max_length=100)


class OrderUpdateResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    success = serializers.BooleanField()
    message = serializers.CharField()
    error_code = serializers.IntegerField(help_text="0, or the HTTP status the order alone would have had.")
    version = serializers.CharField(allow_null=True)


@extend_schema_field(OpenApiTypes.STR)
class IdListField(serializers.Field):
    """IDs as the leader's scripts send them: "12,13", or a JSON list [12, 13]."""

    default_error_messages = {"invalid": "comma-separated IDs, or a list of IDs (at most 500)"}

    def to_internal_value(self, data) -> list[int]:
        parts = data if isinstance(data, list) else str(data).split(",") if isinstance(data, str | int) else None
        if parts is None or len(parts) > 500 or isinstance(data, bool):
            self.fail("invalid")
        ids = []
        for part in parts:
            text = str(part).strip()
            if text == "" and not isinstance(part, int):
                continue
            if isinstance(part, bool) or not text.isascii() or not text.isdigit() or int(text) > 2**63 - 1:
                self.fail("invalid")
            ids.append(int(text))
        return ids

    def to_representation(self, value):
        return ",".join(str(pk) for pk in value)


class PullSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=500, default=100)
    service_ids = IdListField(required=False, help_text='Service IDs: "12,13" or [12, 13].')
    lease_seconds = serializers.IntegerField(min_value=10, max_value=86_400, default=600)


class ClaimSerializer(serializers.Serializer):
    lease_seconds = serializers.IntegerField(min_value=10, max_value=86_400, default=600)


class RefillSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order_id = serializers.IntegerField()
    user = serializers.CharField(source="user.username")
    status = serializers.CharField()
    manual = serializers.SerializerMethodField()
    link = serializers.CharField(source="order.link")
    error = serializers.CharField()
    created = serializers.DateTimeField(source="created_at")

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_manual(self, refill) -> bool:
        return refill.provider_id is None


class RefillResolveSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["in_progress", "completed", "rejected"])
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class CancelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order_id = serializers.IntegerField()
    user = serializers.CharField(source="user.username")
    state = serializers.CharField()
    order_status = serializers.CharField(source="order.status")
    manual = serializers.SerializerMethodField()
    error = serializers.CharField()
    created = serializers.DateTimeField(source="created_at")

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_manual(self, cancel) -> bool:
        return cancel.order.forward_state == ForwardState.MANUAL


class CancelResolveSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["accept", "refuse"])
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class CustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    balance = serializers.DecimalField(**MONEY, coerce_to_string=True)
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True)
    is_active = serializers.BooleanField()
    created = serializers.DateTimeField(source="date_joined")
    last_login = serializers.DateTimeField(allow_null=True)


class BalanceSerializer(serializers.Serializer):
    amount = serializers.DecimalField(**MONEY, help_text="Signed: positive adds, negative takes away.")
    reason = serializers.CharField(max_length=500, help_text="Required: why (kept in the audit log).")
    idempotency_key = serializers.CharField(
        max_length=64, required=False, help_text="The same key again adjusts nothing (say, your script's run ID)."
    )


class BalanceResultSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    balance = serializers.CharField()
    amount = serializers.CharField()
    ledger_entry = serializers.IntegerField()
    created = serializers.BooleanField(help_text="False: the idempotency key was used before; nothing moved.")


class ServiceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    type = serializers.CharField()
    category = serializers.CharField(source="category.name")
    rate = serializers.DecimalField(**MONEY, coerce_to_string=True, help_text="Our rate per 1,000 (or package).")
    fixed_rate = serializers.DecimalField(**MONEY, coerce_to_string=True, allow_null=True)
    markup_percent = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=True, allow_null=True)
    cost = serializers.SerializerMethodField()
    min = serializers.IntegerField()
    max = serializers.IntegerField()
    refill = serializers.BooleanField()
    cancel = serializers.BooleanField()
    dripfeed = serializers.BooleanField()
    enabled = serializers.BooleanField()
    manual = serializers.BooleanField()
    manual_cost = serializers.DecimalField(**MONEY, coerce_to_string=True)
    provider = serializers.SerializerMethodField()
    external_service_id = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_cost(self, service) -> str:
        return f"{unit_cost(service):.5f}"

    @extend_schema_field(ProviderRefSerializer(allow_null=True))
    def get_provider(self, service):
        if service.manual:
            return None
        return {"id": service.upstream.provider_id, "name": service.upstream.provider.name}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_external_service_id(self, service):
        return None if service.manual else service.upstream.upstream_id


class ServiceUpdateSerializer(serializers.Serializer):
    fixed_rate = serializers.DecimalField(
        **MONEY, min_value=0, required=False, allow_null=True, help_text="A fixed rate, or null for the markup rules."
    )
    markup_percent = serializers.DecimalField(
        max_digits=7, decimal_places=2, min_value=0, max_value=100_000, required=False, allow_null=True
    )
    manual_cost = serializers.DecimalField(**MONEY, min_value=0, required=False, help_text="Manual services only.")
    enabled = serializers.BooleanField(required=False)


class ProviderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    enabled = serializers.BooleanField()
    currency = serializers.CharField()
    exchange_rate = serializers.DecimalField(max_digits=18, decimal_places=8, coerce_to_string=True)
    balance = serializers.DecimalField(**MONEY, coerce_to_string=True, allow_null=True)
    balance_checked_at = serializers.DateTimeField(allow_null=True)
    low_balance = serializers.BooleanField()
    low_balance_threshold = serializers.DecimalField(**MONEY, coerce_to_string=True)
