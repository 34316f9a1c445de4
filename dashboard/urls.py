from django.urls import path

from .views import orders, pages, payments

app_name = "dashboard"

urlpatterns = [
    path("", pages.home, name="home"),
    path("order/", orders.order_new, name="order_new"),
    path("order/services/", orders.order_services, name="order_services"),
    path("order/form/", orders.order_service_form, name="order_service_form"),
    path("order/quote/", orders.order_quote, name="order_quote"),
    path("order/mass/", orders.order_mass, name="order_mass"),
    path("orders/", orders.order_list, name="orders"),
    path("orders/rows/", orders.order_rows, name="order_rows"),
    path("orders/<int:pk>/", orders.order_detail, name="order"),
    path("orders/<int:pk>/refill/", orders.order_refill, name="order_refill"),
    path("orders/<int:pk>/cancel/", orders.order_cancel, name="order_cancel"),
    path("refills/", orders.refill_list, name="refills"),
    path("services/", pages.services, name="services"),
    path("funds/", pages.funds, name="funds"),
    path("funds/add/", pages.add_funds, name="add_funds"),
    path("funds/add/<int:method_id>/", payments.deposit_new, name="deposit_new"),
    path("funds/add/<int:method_id>/quote/", payments.deposit_quote, name="deposit_quote"),
    path("funds/deposits/<int:pk>/pay/", payments.deposit_pay, name="deposit_pay"),
    path("funds/deposits/<int:pk>/status/", payments.deposit_status, name="deposit_status"),
    path("funds/deposits/<int:pk>/", payments.deposit_return, name="deposit_return"),
    path("payments/notify/<int:method_id>/", payments.payment_notify, name="payment_notify"),
    path("payments/stripe/webhook/", payments.stripe_webhook, name="stripe_webhook"),
    path("account/", pages.account, name="account"),
    path("account/timezone/", pages.account_timezone, name="account_timezone"),
    path("account/api-key/", pages.account_api_key, name="account_api_key"),
    path("affiliates/", pages.affiliates, name="affiliates"),
    path("affiliates/payout/", pages.affiliate_payout, name="affiliate_payout"),
    path("r/<str:code>/", pages.referral, name="referral"),
    path("tickets/", pages.tickets, name="tickets"),
    path("tickets/<int:pk>/", pages.ticket, name="ticket"),
]
