"""Lines of list parameters: we charge for exactly the lines the provider receives.

The audit's reproduction: five LF-lines, each of 99 comments joined by CR, were charged as 5
comments while the provider (which splits on CR too) delivered and charged 495.
"""

import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.models import Service, ServiceType
from orders.errors import OrderError
from orders.forwarding import order_forward
from orders.models import ForwardState, Order
from orders.placement import order_place
from orders.validation import upstream_params, validate_order

# Every line break any provider's language may split on (PHP's \R in Unicode mode, Python's
# str.splitlines, JavaScript's line terminators), written out independently of upstream.lines.
ANY_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def received_lines(text: str) -> list[str]:
    """What a provider with the widest notion of a line break counts as lines."""
    return [line for line in ANY_BREAK.split(text) if line.strip()]


def test_comments_joined_by_cr_are_charged_one_unit_per_comment(sim, customer, make_service):
    service = make_service("Custom Comments")
    text = "\n".join("\r".join(f"comment {run}-{i}" for i in range(99)) for run in range(5))
    order = order_place(user=customer, service_id=service.pk, data={"link": "https://x.com/p", "comments": text}).order
    assert order.quantity == 495
    assert order.charge == (service.rate * 495 / 1000).quantize(Decimal("0.00001"))
    sent = upstream_params(order)["comments"]
    assert "\r" not in sent and sent.count("\n") == 494

    assert order_forward(order_id=order.pk) == "sent"
    order.refresh_from_db()
    assert order.forward_state == ForwardState.SENT
    assert sim.sim._orders[int(order.upstream_order_id)].quantity == 495


def test_unicode_line_separator_in_a_username_list_counts_as_a_line(customer, make_service):
    service = make_service("Mentions Custom List")
    names = "\u2028".join(f"user{i}" for i in range(service.min + 3))
    data = {"link": "https://x.com/p", "usernames": names}
    order = order_place(user=customer, service_id=service.pk, data=data).order
    assert order.quantity == service.min + 3
    assert upstream_params(order)["usernames"].split("\n") == [f"user{i}" for i in range(service.min + 3)]


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x9b"])
def test_control_characters_inside_a_line_are_refused(customer, make_service, char):
    service = make_service("Custom Comments")
    text = "\n".join(f"comment {i}" for i in range(service.min)) + f"\nbad{char}comment"
    with pytest.raises(OrderError, match="Comments contains a control character on line"):
        order_place(user=customer, service_id=service.pk, data={"link": "https://x.com/p", "comments": text})
    assert not Order.objects.exists()


def test_tabs_inside_a_line_become_spaces(customer, make_service):
    service = make_service("Custom Comments")
    text = "\n".join(f"comment\t{i}" for i in range(service.min))
    order = order_place(user=customer, service_id=service.pk, data={"link": "https://x.com/p", "comments": text}).order
    assert order.params["comments"].split("\n")[0] == "comment 0"


@pytest.mark.parametrize(
    "type_, field",
    [("Mentions User Followers", "username"), ("Comment Likes", "username"), ("Mentions Hashtag", "hashtag")],
)
@pytest.mark.parametrize("value", ["alice\rbob", "alice\u2028bob", "alice\x00", "alice\nbob"])
def test_single_value_parameters_refuse_line_breaks_and_control_characters(customer, make_service, type_, field, value):
    service = make_service(type_)
    with pytest.raises(OrderError):
        order_place(
            user=customer,
            service_id=service.pk,
            data={"link": "https://x.com/p", "quantity": service.min, field: value},
        )
    assert not Order.objects.exists()


def test_list_parameters_of_quantity_types_are_sent_rebuilt(customer, make_service):
    service = make_service("Mentions with Hashtags")
    order = order_place(
        user=customer,
        service_id=service.pk,
        data={"link": "https://x.com/p", "quantity": service.min, "usernames": "a\rb\u2029c", "hashtags": "#x\x0b#y"},
    ).order
    assert order.params == {"usernames": "a\nb\nc", "hashtags": "#x\n#y"}


def test_links_with_control_characters_are_bad_links(customer, make_service):
    service = make_service("Default", dripfeed=False)
    with pytest.raises(OrderError, match="Bad link"):
        order_place(user=customer, service_id=service.pk, data={"link": "https://x.com/\x00p", "quantity": service.min})


BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
LINE_ALPHABET = st.sampled_from(["a", "b", " ", "\t", *BREAKS, "\x00", "\x1f", "\x7f", "\u200b", "\ufeff", "é", "💬"])


@pytest.mark.parametrize("type_", [ServiceType.CUSTOM_COMMENTS, ServiceType.MENTIONS_CUSTOM_LIST])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.one_of(LINE_ALPHABET, st.text(max_size=4)), max_size=60))
def test_property_units_charged_equal_lines_the_provider_receives(type_, pieces):
    field = "comments" if type_ == ServiceType.CUSTOM_COMMENTS else "usernames"
    service = Service(type=type_, min=1, max=10_000, rate=Decimal("1"))
    text = "".join(pieces)
    try:
        checked = validate_order(service, {"link": "https://x.com/p", field: text})
    except OrderError:
        return
    order = Order(service=service, link=checked.link, quantity=checked.quantity, params=checked.params)
    sent = upstream_params(order)[field]
    assert len(received_lines(sent)) == checked.quantity
    assert sent.split("\n") == received_lines(sent)
