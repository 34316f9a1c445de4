"""The Admin API v2 for staff scripts: one class per resource and operation, thin (parse, call
the service that owns the rule, answer). Every write goes through a service that writes its
audit row with the token's user: orders.manual, catalog.services, accounts.services."""

import uuid
from decimal import Decimal

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status

from accounts.models import LedgerEntry, User
from accounts.services import BalanceRefused, balance_adjust
from catalog.models import Service
from catalog.pricing import BelowCost
from catalog.services import UNSET, ServiceRefused, service_update
from orders import manual
from orders.models import CancelRequest, ForwardState, Order, Refill, Status
from orders.staff import ActionError
from upstream.models import Provider
from upstream.names import name_key

from . import serializers as out
from .common import (
    AdminApiView,
    bool_param,
    id_list,
    int_param,
    moment_param,
    ok,
    paged,
    query,
)
from .permissions import PERM_CATALOG, PERM_MONEY, PERM_ORDERS

STATUS_WORDS = {name_key(choice): choice for choice in Status.values}
REFUNDING = (Status.PARTIAL, Status.CANCELED)


def envelope(item_serializer, name: str):
    return inline_serializer(name, {"data": item_serializer, "error_code": serializers.IntegerField()})


def list_envelope(item_serializer, name: str):
    data = inline_serializer(
        f"{name}Data",
        {
            "list": item_serializer(many=True),
            "count": serializers.IntegerField(),
            "limit": serializers.IntegerField(),
            "offset": serializers.IntegerField(),
        },
    )
    return envelope(data, name)


def status_word(raw: str | None, field: str = "status") -> str | None:
    """Our status for any spelling (`in_progress`, `In progress`, `COMPLETED`): the leader's
    scripts send lower case with underscores, ours answer the protocol's words."""
    if raw in (None, ""):
        return None
    word = STATUS_WORDS.get(name_key(str(raw)))
    if word is None:
        word = Status.CANCELED if name_key(str(raw)) == "cancelled" else None
    if word is None:
        raise exceptions.ValidationError({field: f"unknown status {str(raw)[:40]!r}"})
    return word


def _orders():
    return Order.objects.select_related("user", "service", "provider", "claimed_by")


def _order_or_404(order_id: int) -> Order:
    order = _orders().filter(pk=order_id).first()
    if order is None:
        raise exceptions.NotFound(f"Order {order_id} not found.")
    return order


def _valid(serializer_class, request, **kwargs):
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError("Send a JSON object.")
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


ORDER_ANSWER = envelope(out.OrderSerializer, "OrderAnswer")
SERVICE_ANSWER = envelope(out.ServiceSerializer, "ServiceAnswer")

ORDER_FILTERS = [
    OpenApiParameter("status", str, description="Comma-separated statuses, any spelling (in_progress, Partial)"),
    OpenApiParameter("service_ids", str, description="Comma-separated service IDs"),
    OpenApiParameter("provider", str, description="A provider ID, or `manual` for manual orders"),
    OpenApiParameter("user", str, description="The customer's username"),
    OpenApiParameter("customer_id", int),
    OpenApiParameter("date_from", str, description="Placed at or after: a date, an ISO 8601 date-time or Unix time"),
    OpenApiParameter("date_to", str, description="Placed before (a date includes that whole day)"),
    OpenApiParameter("link", str, description="The link contains this text"),
    OpenApiParameter("ids", str, description="Comma-separated order IDs"),
    OpenApiParameter("sort", str, enum=["desc", "asc"], description="By ID; newest first by default"),
    OpenApiParameter("limit", int, description="1-500, default 100"),
    OpenApiParameter("offset", int),
]


# --- Orders ----------------------------------------------------------------------------------------


class OrdersListApi(AdminApiView):
    required_permissions = {"GET": ("orders.view_order",)}

    @extend_schema(
        operation_id="orders_list", parameters=ORDER_FILTERS, responses=list_envelope(out.OrderSerializer, "OrderList")
    )
    def get(self, request):
        orders = _orders()
        statuses = [status_word(word) for word in query(request, "status").split(",") if word.strip()]
        if statuses:
            orders = orders.filter(status__in=statuses)
        services = id_list(request, "service_ids")
        if services is not None:
            orders = orders.filter(service_id__in=services)
        provider = query(request, "provider", max_length=20)
        if provider.lower() == "manual":
            orders = orders.filter(forward_state=ForwardState.MANUAL)
        elif provider:
            orders = orders.filter(provider_id=int_param(request, "provider"))
        username = query(request, "user", max_length=150)
        if username:
            orders = orders.filter(user__username=username)
        customer_id = int_param(request, "customer_id")
        if customer_id is not None:
            orders = orders.filter(user_id=customer_id)
        start, end = moment_param(request, "date_from"), moment_param(request, "date_to", end=True)
        if start:
            orders = orders.filter(created_at__gte=start)
        if end:
            orders = orders.filter(created_at__lt=end)
        link = query(request, "link", max_length=2000)
        if link:
            orders = orders.filter(link__contains=link)
        ids = id_list(request, "ids")
        if ids is not None:
            orders = orders.filter(pk__in=ids)
        sort = query(request, "sort", max_length=4) or "desc"
        if sort not in ("asc", "desc"):
            raise exceptions.ValidationError({"sort": "asc or desc"})
        page, meta = paged(request, orders.order_by("id" if sort == "asc" else "-id"))
        return ok({"list": out.OrderSerializer(page, many=True).data, **meta})


def _update_one(actor, data: dict, order_id: int) -> tuple[Order, Decimal]:
    new_status = status_word(data.get("status"))
    if new_status in REFUNDING and not actor.has_perm(PERM_MONEY):
        raise exceptions.PermissionDenied("Partial and Canceled refund money: your role does not allow it.")
    return manual.order_update(
        order_id=order_id,
        actor_id=actor.pk,
        version=data["version"],
        status=new_status,
        start_count=data.get("start_count"),
        remains=data.get("remains"),
        reason=data.get("reason", ""),
    )


class OrderDetailApi(AdminApiView):
    required_permissions = {"GET": ("orders.view_order",), "POST": (PERM_ORDERS,)}

    @extend_schema(operation_id="orders_get", responses=ORDER_ANSWER)
    def get(self, request, order_id: int):
        return ok(out.OrderSerializer(_order_or_404(order_id)).data)

    @extend_schema(
        operation_id="orders_update",
        request=out.OrderUpdateSerializer,
        responses={200: ORDER_ANSWER, 409: None},
        description="Set status, start count and remains (manual orders), or the outcome (any order), "
        "compare-and-set: `version` is the order's as you read it; 409 if it changed since. The version may "
        "also come as an If-Match header.",
    )
    def post(self, request, order_id: int):
        body = request.data
        if isinstance(body, dict):
            # A form body is a QueryDict (lists of values): one value per field, as JSON has.
            body = body.dict() if hasattr(body, "dict") else dict(body)
        if isinstance(body, dict) and "version" not in body and request.headers.get("If-Match"):
            body["version"] = request.headers["If-Match"].strip('" ')
        serializer = out.OrderUpdateSerializer(data=body)
        if not isinstance(body, dict):
            raise exceptions.ValidationError("Send a JSON object.")
        serializer.is_valid(raise_exception=True)
        _order_or_404(order_id)
        _update_one(request.user, serializer.validated_data, order_id)
        return ok(out.OrderSerializer(_order_or_404(order_id)).data)


class OrdersUpdateApi(AdminApiView):
    """The leader's bulk update: one result per order, each applied on its own."""

    required_permissions = {"POST": (PERM_ORDERS,)}

    @extend_schema(
        operation_id="orders_update_many",
        request=out.OrdersUpdateSerializer,
        responses=envelope(
            inline_serializer("OrdersUpdateData", {"orders": out.OrderUpdateResultSerializer(many=True)}),
            "OrdersUpdateAnswer",
        ),
    )
    def post(self, request):
        data = _valid(out.OrdersUpdateSerializer, request)
        results = []
        for item in data["orders"]:
            try:
                order, _ = _update_one(request.user, item, item["id"])
                result = {
                    "success": True,
                    "message": order.status,
                    "error_code": 0,
                    "version": manual.order_version(order),
                }
            except (ActionError, exceptions.APIException) as exc:
                code = _status_of(exc)
                result = {"success": False, "message": str(getattr(exc, "detail", exc)), "error_code": code}
                result["version"] = None
            results.append({"id": item["id"], **result})
        return ok({"orders": results})


def _status_of(exc) -> int:
    if isinstance(exc, manual.ChangedMeanwhile | manual.TakenByOther):
        return status.HTTP_409_CONFLICT
    if isinstance(exc, exceptions.APIException):
        return exc.status_code
    if "does not exist" in str(exc):
        return status.HTTP_404_NOT_FOUND
    return status.HTTP_400_BAD_REQUEST


class OrdersPullApi(AdminApiView):
    required_permissions = {"POST": (PERM_ORDERS,)}

    @extend_schema(
        operation_id="orders_pull",
        request=out.PullSerializer,
        responses=list_envelope(out.OrderSerializer, "PulledOrders"),
        description="Claim up to `limit` manual orders, oldest first, for this worker: concurrent pullers never "
        "get the same order. Unfinished orders whose lease lapsed are pulled again.",
    )
    def post(self, request):
        data = _valid(out.PullSerializer, request)
        orders = manual.manual_pull(
            actor_id=self.actor_id,
            limit=data["limit"],
            service_ids=data.get("service_ids") or None,
            lease_seconds=data["lease_seconds"],
        )
        for order in orders:
            order.claimed_by = request.user
        body = out.OrderSerializer(orders, many=True).data
        return ok({"list": body, "count": len(body), "limit": data["limit"], "offset": 0})


class OrderTakeApi(AdminApiView):
    required_permissions = {"POST": (PERM_ORDERS,)}

    @extend_schema(
        operation_id="orders_take",
        request=out.ClaimSerializer,
        responses=ORDER_ANSWER,
        description="Take (claim) one manual order, or renew your claim; 409 while another worker holds it.",
    )
    def post(self, request, order_id: int):
        data = _valid(out.ClaimSerializer, request)
        _order_or_404(order_id)
        manual.manual_take(order_id=order_id, actor_id=self.actor_id, lease_seconds=data["lease_seconds"])
        return ok(out.OrderSerializer(_order_or_404(order_id)).data)


class OrderReleaseApi(AdminApiView):
    required_permissions = {"POST": (PERM_ORDERS,)}

    @extend_schema(operation_id="orders_release", request=None, responses=ORDER_ANSWER)
    def post(self, request, order_id: int):
        _order_or_404(order_id)
        manual.manual_release(order_id=order_id, actor_id=self.actor_id)
        return ok(out.OrderSerializer(_order_or_404(order_id)).data)


# --- Refills and cancels -----------------------------------------------------------------------------


class RefillsListApi(AdminApiView):
    required_permissions = {"GET": ("orders.view_refill",)}

    @extend_schema(
        operation_id="refills_list",
        parameters=[
            OpenApiParameter("manual", bool, description="Only refills of manual orders (default: all)"),
            OpenApiParameter("status", str, description="Pending, In progress, Completed or Rejected"),
            OpenApiParameter("order_id", int),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=list_envelope(out.RefillSerializer, "RefillList"),
    )
    def get(self, request):
        refills = Refill.objects.select_related("user", "order").order_by("id")
        if bool_param(request, "manual"):
            refills = refills.filter(state=Refill.State.MANUAL)
        wanted = query(request, "status", max_length=20)
        if wanted:
            by_key = {name_key(value): value for value in Refill.Status.values}
            if name_key(wanted) not in by_key:
                raise exceptions.ValidationError({"status": "Pending, In progress, Completed or Rejected"})
            refills = refills.filter(status=by_key[name_key(wanted)])
        order_id = int_param(request, "order_id")
        if order_id is not None:
            refills = refills.filter(order_id=order_id)
        page, meta = paged(request, refills)
        return ok({"list": out.RefillSerializer(page, many=True).data, **meta})


class RefillResolveApi(AdminApiView):
    required_permissions = {"POST": (PERM_ORDERS,)}

    @extend_schema(
        operation_id="refills_resolve",
        request=out.RefillResolveSerializer,
        responses=envelope(out.RefillSerializer, "RefillAnswer"),
        description="A manual order's refill: done (completed), being done (in_progress) or refused (rejected).",
    )
    def post(self, request, refill_id: int):
        data = _valid(out.RefillResolveSerializer, request)
        if not Refill.objects.filter(pk=refill_id).exists():
            raise exceptions.NotFound(f"Refill {refill_id} not found.")
        manual.manual_refill_resolve(
            refill_id=refill_id, actor_id=self.actor_id, outcome=data["status"], reason=data["reason"]
        )
        return ok(out.RefillSerializer(Refill.objects.select_related("user", "order").get(pk=refill_id)).data)


class CancelsListApi(AdminApiView):
    required_permissions = {"GET": ("orders.view_cancelrequest",)}

    @extend_schema(
        operation_id="cancels_list",
        parameters=[
            OpenApiParameter("manual", bool, description="Only cancels of manual orders waiting for staff"),
            OpenApiParameter("order_id", int),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=list_envelope(out.CancelSerializer, "CancelList"),
    )
    def get(self, request):
        cancels = CancelRequest.objects.select_related("user", "order").order_by("id")
        if bool_param(request, "manual"):
            cancels = cancels.filter(state=CancelRequest.State.MANUAL)
        order_id = int_param(request, "order_id")
        if order_id is not None:
            cancels = cancels.filter(order_id=order_id)
        page, meta = paged(request, cancels)
        return ok({"list": out.CancelSerializer(page, many=True).data, **meta})


class CancelResolveApi(AdminApiView):
    required_permissions = {"POST": (PERM_ORDERS,)}

    @extend_schema(
        operation_id="cancels_resolve",
        request=out.CancelResolveSerializer,
        responses=envelope(out.CancelSerializer, "CancelAnswer"),
        description="A manual order's cancel: accept (the order ends Canceled, refunded in full) or refuse.",
    )
    def post(self, request, cancel_id: int):
        data = _valid(out.CancelResolveSerializer, request)
        if not CancelRequest.objects.filter(pk=cancel_id).exists():
            raise exceptions.NotFound(f"Cancel {cancel_id} not found.")
        accept = data["action"] == "accept"
        if accept and not request.user.has_perm(PERM_MONEY):
            raise exceptions.PermissionDenied("Accepting a cancel refunds money: your role does not allow it.")
        manual.manual_cancel_resolve(cancel_id=cancel_id, actor_id=self.actor_id, accept=accept, reason=data["reason"])
        return ok(out.CancelSerializer(CancelRequest.objects.select_related("user", "order").get(pk=cancel_id)).data)


# --- Customers -------------------------------------------------------------------------------------


def _customers():
    return User.objects.filter(is_staff=False, is_superuser=False)


class CustomersListApi(AdminApiView):
    required_permissions = {"GET": ("accounts.view_user",)}

    @extend_schema(
        operation_id="customers_list",
        parameters=[
            OpenApiParameter("search", str, description="Username or email contains"),
            OpenApiParameter("is_active", bool),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=list_envelope(out.CustomerSerializer, "CustomerList"),
    )
    def get(self, request):
        customers = _customers().order_by("id")
        search = query(request, "search", max_length=150)
        if search:
            customers = customers.filter(Q(username__icontains=search) | Q(email__icontains=search))
        active = bool_param(request, "is_active")
        if active is not None:
            customers = customers.filter(is_active=active)
        page, meta = paged(request, customers)
        return ok({"list": out.CustomerSerializer(page, many=True).data, **meta})


def _customer_or_404(customer_id: int) -> User:
    customer = _customers().filter(pk=customer_id).first()
    if customer is None:
        raise exceptions.NotFound(f"Customer {customer_id} not found.")
    return customer


class CustomerDetailApi(AdminApiView):
    required_permissions = {"GET": ("accounts.view_user",)}

    @extend_schema(operation_id="customers_get", responses=envelope(out.CustomerSerializer, "CustomerAnswer"))
    def get(self, request, customer_id: int):
        return ok(out.CustomerSerializer(_customer_or_404(customer_id)).data)


class CustomerBalanceApi(AdminApiView):
    required_permissions = {"POST": (PERM_MONEY,)}

    @extend_schema(
        operation_id="customers_balance_adjust",
        request=out.BalanceSerializer,
        responses=envelope(out.BalanceResultSerializer, "BalanceAnswer"),
        description="A signed correction through the audited ledger path (a ledger `adjustment` and an audit "
        "row with the reason); never below zero. The same idempotency_key adjusts once.",
    )
    def post(self, request, customer_id: int):
        data = _valid(out.BalanceSerializer, request)
        customer = _customer_or_404(customer_id)
        key = data.get("idempotency_key") or uuid.uuid4().hex
        try:
            posting = balance_adjust(
                user_id=customer.pk,
                amount=data["amount"],
                reason=data["reason"],
                idempotency_key=f"adminapi:{customer.pk}:{key}",
                actor_id=self.actor_id,
                kind=LedgerEntry.Kind.ADJUSTMENT,
            )
        except BalanceRefused as exc:
            raise exceptions.ValidationError(str(exc)) from None
        customer.refresh_from_db()
        entry = posting.entry
        result = {
            "customer_id": customer.pk,
            "balance": f"{customer.balance:.5f}",
            "amount": f"{entry.amount:.5f}",
            "ledger_entry": entry.pk,
            "created": posting.created,
        }
        return ok(result, status.HTTP_201_CREATED if posting.created else status.HTTP_200_OK)


# --- Services and providers ------------------------------------------------------------------------


def _services():
    return Service.objects.select_related("category", "upstream__provider")


class ServicesListApi(AdminApiView):
    required_permissions = {"GET": ("catalog.view_service",)}

    @extend_schema(
        operation_id="services_list",
        parameters=[
            OpenApiParameter("manual", bool),
            OpenApiParameter("enabled", bool),
            OpenApiParameter("provider", int),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=list_envelope(out.ServiceSerializer, "ServiceList"),
    )
    def get(self, request):
        services = _services().order_by("id")
        for name in ("manual", "enabled"):
            value = bool_param(request, name)
            if value is not None:
                services = services.filter(**{name: value})
        provider = int_param(request, "provider")
        if provider is not None:
            services = services.filter(upstream__provider_id=provider)
        page, meta = paged(request, services)
        return ok({"list": out.ServiceSerializer(page, many=True).data, **meta})


class ServiceDetailApi(AdminApiView):
    required_permissions = {"GET": ("catalog.view_service",), "PATCH": (PERM_CATALOG,)}

    @extend_schema(operation_id="services_get", responses=SERVICE_ANSWER)
    def get(self, request, service_id: int):
        service = _services().filter(pk=service_id).first()
        if service is None:
            raise exceptions.NotFound(f"Service {service_id} not found.")
        return ok(out.ServiceSerializer(service).data)

    @extend_schema(
        operation_id="services_update",
        request=out.ServiceUpdateSerializer,
        responses=SERVICE_ANSWER,
        description="Change the price rule (fixed_rate, or null for the markup rules; markup_percent; a manual "
        "service's manual_cost) or enable / disable it. Our rate follows the pricing rules; a price below cost "
        "is refused unless the service is a loss-leader.",
    )
    def patch(self, request, service_id: int):
        data = _valid(out.ServiceUpdateSerializer, request)
        if not Service.objects.filter(pk=service_id).exists():
            raise exceptions.NotFound(f"Service {service_id} not found.")
        try:
            service_update(
                service_id=service_id,
                actor_id=self.actor_id,
                fixed_rate=data.get("fixed_rate", UNSET),
                markup_percent=data.get("markup_percent", UNSET),
                manual_cost=data.get("manual_cost"),
                enabled=data.get("enabled"),
            )
        except (BelowCost, ServiceRefused) as exc:
            raise exceptions.ValidationError(str(exc)) from None
        return ok(out.ServiceSerializer(_services().get(pk=service_id)).data)


class ProvidersListApi(AdminApiView):
    required_permissions = {"GET": ("upstream.view_provider",)}

    @extend_schema(operation_id="providers_list", responses=list_envelope(out.ProviderSerializer, "ProviderList"))
    def get(self, request):
        page, meta = paged(request, Provider.objects.order_by("id"))
        return ok({"list": out.ProviderSerializer(page, many=True).data, **meta})
