"""Sync of odd but real-world `services` answers, served by `responses`."""

from decimal import Decimal

import pytest
import responses

from catalog.models import Service, ServiceChange, UpstreamService
from catalog.sync import sync_provider

D = Decimal


@pytest.fixture
def provider(pricing, provider_for):
    return provider_for(auto_import=True)


@responses.activate
def test_odd_listing_is_stored_safely_and_synced_idempotently(provider):
    listing = [
        {
            "service": 1,
            "name": "First",
            "type": "Default",
            "category": "Cat",
            "rate": 1.123456,
            "min": "10",
            "max": 100,
        },
        {
            "service": "1",
            "name": "First, listed again",
            "type": "Default",
            "category": "Cat",
            "rate": "1.5",
            "min": 10,
            "max": 100,
        },
        {"service": 2, "name": "Nul\u0000name", "type": "Story Views", "rate": "0.5", "min": 1, "max": 5},
        {"service": 3, "name": "No rate", "min": 1, "max": 2},
        {"service": 4, "name": "Too big to store", "rate": "1e20", "min": 1, "max": 2},
        {"service": 5, "name": "Min above max", "type": "Default", "rate": "2", "min": "50", "max": "5"},
        {"service": 7, "name": "Lower case type", "type": "custom comments", "rate": "5", "min": 1, "max": 10},
        {"service": 6, "name": "Extra fields", "rate": 0.123456789, "min": 1, "max": 10, "extra": {"speed": 1.5}},
    ]
    responses.post(provider.api_url, json=listing)
    run = sync_provider(provider_id=provider.pk)
    assert run.ok, run.error
    rows = {row.upstream_id: row for row in UpstreamService.objects.filter(provider=provider)}
    assert sorted(rows) == ["1", "2", "5", "6", "7"]  # 3 and 4 cannot be stored
    assert rows["1"].name == "First, listed again"  # a repeated ID: the last entry wins
    assert rows["2"].name == "Nulname" and rows["2"].raw["name"] == "Nulname"
    assert rows["6"].rate == D("0.12346")  # rounded up to the 5 places we keep
    assert rows["6"].raw["rate"] == "0.123456789" and rows["6"].raw["extra"] == {"speed": "1.5"}

    sold = {service.upstream.upstream_id: service for service in Service.objects.select_related("upstream")}
    assert sorted(sold) == ["1", "5", "6", "7"]  # "Story Views" is not a type we can sell
    assert sold["7"].type == "Custom Comments"
    assert (sold["5"].min, sold["5"].max) == (50, 50)
    assert ServiceChange.objects.filter(kind="new_upstream", upstream_service=rows["2"]).exists()

    again = sync_provider(provider_id=provider.pk)
    assert again.ok and again.changes == 0

    # The provider changes only the case of a type: not a new type, nothing is disabled.
    next(item for item in listing if item["service"] == 7)["type"] = "Custom Comments"
    responses.replace(responses.POST, provider.api_url, json=listing)
    recased = sync_provider(provider_id=provider.pk)
    assert recased.ok and not ServiceChange.objects.filter(sync_run=recased, kind="retyped").exists()
    assert Service.objects.get(upstream__upstream_id="7", upstream__provider=provider).enabled


@responses.activate
def test_listing_keyed_by_service_id(provider):
    responses.post(
        provider.api_url,
        json={
            "7": {"name": "Seven", "rate": "1", "min": 1, "max": 10},
            "8": {"name": "Eight", "rate": "2", "min": 1, "max": 10},
        },
    )
    run = sync_provider(provider_id=provider.pk)
    assert run.ok and run.created == 2


@responses.activate
@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"error": "Invalid API key"}, "Invalid API key"),
        ("<html>502 Bad Gateway</html>", "not JSON"),
        ({"unexpected": "shape"}, "unexpected answer"),
    ],
)
def test_provider_errors_end_the_run_and_change_nothing(provider, body, error):
    if isinstance(body, str):
        responses.post(provider.api_url, body=body, content_type="text/html")
    else:
        responses.post(provider.api_url, json=body)
    run = sync_provider(provider_id=provider.pk)
    assert run.ok is False and error in run.error
    assert not UpstreamService.objects.exists()
