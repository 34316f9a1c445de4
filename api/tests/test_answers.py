"""The status answer is written as JSON text directly (the hot path); these properties pin it to
exactly what json.dumps of the same answer as dicts gives, byte for byte."""

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from api import answers

COMPACT = {"separators": (",", ":")}
IDS = st.one_of(
    st.integers(min_value=1, max_value=10**18 - 1).map(str),
    st.sampled_from(["0", "007", "", " 5", "1e3", "-4", "١٢", "10000000000000000000"]),
    st.text(max_size=8),
)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(
    charge=st.decimals(min_value=0, max_value=Decimal("9999999999999.99999"), places=5),
    start_count=st.none() | st.integers(min_value=0, max_value=2**63 - 1),
    status=st.sampled_from(["Pending", "In progress", "Processing", "Completed", "Partial", "Canceled"]),
    remains=st.none() | st.integers(min_value=-(2**31), max_value=2**31),
    quantity=st.integers(min_value=1, max_value=2**40),
    runs=st.none() | st.integers(min_value=1, max_value=10**4),
    interval=st.none() | st.integers(min_value=1, max_value=10**4),
    currency=st.sampled_from(["USD", "EUR", "\u0440\u0443\u0431", 'a"b\\c']),
)
def test_one_status_as_text_is_json_dumps_of_the_dict(
    charge, start_count, status, remains, quantity, runs, interval, currency
):
    kwargs = {
        "start_count": start_count,
        "status": status,
        "remains": remains,
        "quantity": quantity,
        "runs": runs,
        "interval": interval,
        "currency": currency,
    }
    text = answers.order_status_json(charge=answers.money(charge), **kwargs)
    as_dict = answers.order_status(charge=charge, **kwargs)
    assert text == json.dumps(as_dict, **COMPACT)
    assert as_dict["charge"] == str(charge.quantize(Decimal("0.00001")))
    # The reference's keys first, in its order; then what drip-feed and subscriptions add.
    assert list(as_dict)[:5] == ["charge", "start_count", "status", "remains", "currency"]
    assert as_dict["remains"] == "0" or status != "Completed"
    if runs:
        done = int(as_dict["runs" if interval else "posts"])
        assert 0 <= done <= runs
        assert done == runs or status != "Completed"
    else:
        assert len(as_dict) == 5


@settings(max_examples=500, deadline=None, derandomize=True)
@given(ids=st.lists(IDS, max_size=30), known=st.sets(st.integers(min_value=1, max_value=50).map(str)))
def test_many_statuses_as_text_are_json_dumps_of_the_dict(ids, known):
    ids = ids + sorted(known)[:3]  # some IDs that are found, some twice
    found = {raw: json.dumps({"status": f"found {raw}"}, **COMPACT) for raw in known}
    missing = json.dumps(answers.error(answers.INCORRECT_ORDER), **COMPACT)
    expected = {raw: json.loads(found[raw]) if raw in found else answers.error(answers.INCORRECT_ORDER) for raw in ids}
    assert answers.keyed_json(ids, found, missing) == json.dumps(expected, **COMPACT)
