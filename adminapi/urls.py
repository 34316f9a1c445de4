from django.http import JsonResponse
from django.urls import path, re_path
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.views import SpectacularAPIView

from . import apis, schema

app_name = "adminapi"


def not_found(request, rest: str = ""):
    """Any other address under the Admin API answers JSON too, not the site's HTML 404 page."""
    return JsonResponse({"error": "Not found.", "error_code": 404}, status=404)


urlpatterns = [
    path("orders", apis.OrdersListApi.as_view(), name="orders"),
    path("orders/pull", apis.OrdersPullApi.as_view(), name="orders_pull"),
    path("orders/update", apis.OrdersUpdateApi.as_view(), name="orders_update"),
    path("orders/<int:order_id>", apis.OrderDetailApi.as_view(), name="order"),
    path("orders/<int:order_id>/take", apis.OrderTakeApi.as_view(), name="order_take"),
    path("orders/<int:order_id>/release", apis.OrderReleaseApi.as_view(), name="order_release"),
    path("refills", apis.RefillsListApi.as_view(), name="refills"),
    path("refills/<int:refill_id>/resolve", apis.RefillResolveApi.as_view(), name="refill_resolve"),
    path("cancels", apis.CancelsListApi.as_view(), name="cancels"),
    path("cancels/<int:cancel_id>/resolve", apis.CancelResolveApi.as_view(), name="cancel_resolve"),
    path("customers", apis.CustomersListApi.as_view(), name="customers"),
    path("customers/<int:customer_id>", apis.CustomerDetailApi.as_view(), name="customer"),
    path("customers/<int:customer_id>/balance", apis.CustomerBalanceApi.as_view(), name="customer_balance"),
    path("services", apis.ServicesListApi.as_view(), name="services"),
    path("services/<int:service_id>", apis.ServiceDetailApi.as_view(), name="service"),
    path("providers", apis.ProvidersListApi.as_view(), name="providers"),
    path(
        "openapi.json",
        SpectacularAPIView.as_view(
            urlconf="adminapi.urls",
            renderer_classes=[OpenApiJsonRenderer],
            custom_settings={"SERVERS": [{"url": "/adminapi/v2"}], "DESCRIPTION": schema.DESCRIPTION},
        ),
        name="openapi",
    ),
    re_path(r"^(?P<rest>.*)$", not_found),
]
