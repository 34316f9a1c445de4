"""Sync against the simulator over real HTTP: new, changed, removed and retyped services,
auto-import, the change log, idempotence and the number of queries."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import (
    Category,
    ProviderImport,
    Service,
    ServiceChange,
    SyncRun,
    UpstreamService,
)
from catalog.pricing import list_rate
from catalog.sync import known_type, sync_provider

D = Decimal
Kind = ServiceChange.Kind


def sync(provider, **kwargs) -> SyncRun:
    run = sync_provider(provider_id=provider.pk, **kwargs)
    assert run.ok, run.error
    return run


def ours(provider, upstream_id: str) -> Service:
    return Service.objects.select_related("category", "upstream__provider").get(
        upstream__provider=provider, upstream__upstream_id=upstream_id
    )


def changes(run: SyncRun, **filters) -> list[tuple]:
    rows = ServiceChange.objects.filter(sync_run=run, **filters).order_by("id")
    return [(c.kind, c.field, c.old_value, c.new_value) for c in rows]


def test_first_sync_records_every_upstream_service_and_imports_nothing_by_default(pricing, simulator, provider_for):
    sim = simulator(services=40)
    provider = provider_for(sim)
    run = sync(provider)
    listed = sim.listing()
    assert run.upstream_count == 40 and run.created == 0 and run.changes == 40
    assert UpstreamService.objects.filter(provider=provider, present=True).count() == 40
    first = listed[0]
    row = UpstreamService.objects.get(provider=provider, upstream_id=str(first["service"]))
    assert (row.name, row.type, row.category, row.rate, row.min, row.max) == (
        first["name"],
        first["type"],
        first["category"],
        D(first["rate"]),
        int(first["min"]),
        int(first["max"]),
    )
    assert row.raw["name"] == first["name"] and row.raw["rate"] == first["rate"]
    assert not Service.objects.exists()
    assert ServiceChange.objects.filter(sync_run=run, kind=Kind.NEW_UPSTREAM).count() == 40


def test_auto_import_fills_the_catalog_in_one_step(pricing, simulator, provider_for):
    sim = simulator(services=40)
    provider = provider_for(sim, exchange_rate=D("1.1"))
    ProviderImport.objects.create(provider=provider, auto_import=True, category_prefix="SIM ")
    run = sync(provider)
    listed = sim.listing()
    assert run.created == 40 == Service.objects.filter(upstream__provider=provider, auto_imported=True).count()
    item = listed[0]
    service = ours(provider, str(item["service"]))
    assert service.category.name == f"SIM {item['category']}"
    assert (service.name, service.type, service.description, service.min, service.max) == (
        item["name"],
        item["type"],
        item["desc"],
        int(item["min"]),
        int(item["max"]),
    )
    assert (service.refill, service.cancel, service.dripfeed) == (item["refill"], item["cancel"], item["dripfeed"])
    assert service.enabled and not service.flagged
    assert service.markup_percent is None
    # upstream rate x 1.1 x 1.5, rounded up to 4 places
    assert service.rate == list_rate(service, pricing)
    assert service.rate == (D(item["rate"]) * D("1.1") * D("1.5")).quantize(D("0.0001"), rounding="ROUND_UP")
    assert ServiceChange.objects.filter(sync_run=run, kind=Kind.IMPORTED).count() == 40
    assert not ServiceChange.objects.filter(sync_run=run, kind=Kind.NEW_UPSTREAM).exists()
    # Categories are created once each, in the order the provider lists them.
    names = list(dict.fromkeys(f"SIM {row['category']}" for row in listed))
    assert list(Category.objects.filter(name__startswith="SIM ").values_list("name", flat=True)) == names


def test_import_markup_is_stored_on_each_imported_service(pricing, simulator, provider_for):
    sim = simulator(services=5)
    provider = provider_for(sim)
    ProviderImport.objects.create(provider=provider, auto_import=True, markup_percent=D("25"))
    sync(provider)
    service = ours(provider, "1")
    assert service.markup_percent == D("25")
    assert service.rate == (service.upstream.rate * D("1.25")).quantize(D("0.0001"), rounding="ROUND_UP")


def test_sync_twice_changes_nothing_the_second_time(pricing, simulator, provider_for):
    sim = simulator(services=30)
    provider = provider_for(sim, auto_import=True)
    sync(provider)
    before = list(Service.objects.order_by("pk").values())
    upstream_before = list(UpstreamService.objects.order_by("pk").values_list("pk", "name", "rate", "present", "raw"))
    UpstreamService.objects.filter(provider=provider, upstream_id="1").update(last_seen_at=None)
    second = sync(provider)
    assert (second.changes, second.created) == (0, 0)
    assert not UpstreamService.objects.filter(provider=provider, last_seen_at__lt=second.started_at).exists()
    assert not UpstreamService.objects.filter(provider=provider, last_seen_at=None).exists()
    assert not ServiceChange.objects.filter(sync_run=second).exists()
    assert list(Service.objects.order_by("pk").values()) == before
    assert (
        list(UpstreamService.objects.order_by("pk").values_list("pk", "name", "rate", "present", "raw"))
        == upstream_before
    )


def test_changed_upstream_service_is_followed_and_logged(pricing, simulator, provider_for):
    sim = simulator(services=10)
    provider = provider_for(sim, auto_import=True)
    sync(provider)
    service = ours(provider, "3")
    old_rate, old_name, old_refill = service.rate, service.name, service.refill
    sim.change(
        update={
            "3": {
                "rate": "4.00",
                "min": 20,
                "max": 9000,
                "refill": not old_refill,
                "name": "Renamed upstream",
                "desc": "New text",
            }
        }
    )
    run = sync(provider)
    service = ours(provider, "3")
    assert service.rate == D("6.0000")
    assert (service.min, service.max, service.refill) == (20, 9000, not old_refill)
    # Our name and description are ours: staff may have rewritten them.
    assert (service.name, service.upstream.name) == (old_name, "Renamed upstream")
    logged = {row[1]: row for row in changes(run, service=service)}
    assert logged["rate"] == (Kind.CHANGED, "rate", str(old_rate), "6.00000")
    assert logged["cost"][0] == Kind.CHANGED and logged["cost"][3] == "4.00000"
    assert logged["min"][3] == "20" and logged["max"][3] == "9000"
    assert logged["refill"][2:] == (str(old_refill), str(not old_refill))
    assert logged["upstream_name"][2:] == (old_name, "Renamed upstream")
    assert service.enabled and not service.flagged
    assert run.changes == ServiceChange.objects.filter(sync_run=run).count()


def test_a_range_staff_narrowed_stays_narrowed(pricing, simulator, provider_for):
    sim = simulator(services=30)
    provider = provider_for(sim, auto_import=True)
    sync(provider)
    upstream = UpstreamService.objects.filter(provider=provider, type="Default", max__gte=5000).first()
    Service.objects.filter(upstream=upstream).update(min=upstream.min + 5, max=upstream.max - 5)
    sim.change(update={upstream.upstream_id: {"min": upstream.min + 1, "max": upstream.max - 1000}})
    sync(provider)
    service = ours(provider, upstream.upstream_id)
    assert service.min == upstream.min + 5  # ours stayed above upstream's new minimum
    assert service.max == upstream.max - 1000  # upstream narrowed below ours


def test_removed_upstream_service_is_disabled_flagged_and_kept(pricing, simulator, provider_for):
    sim = simulator(services=10)
    provider = provider_for(sim, auto_import=True)
    sync(provider)
    original = next(row for row in sim.listing() if row["service"] == 4)
    sim.change(remove=[4])
    run = sync(provider)
    service = ours(provider, "4")
    assert not service.enabled and service.flagged and service.flag_reason == "removed upstream"
    assert service.upstream.present is False
    assert changes(run, service=service) == [(Kind.REMOVED, "enabled", "True", "False")]
    assert Service.objects.filter(upstream__provider=provider).count() == 10
    again = sync(provider)
    assert again.changes == 0

    # Back upstream: recorded, but ours stays disabled until staff re-enable it.
    sim.change(add=[original])
    back = sync(provider)
    service = ours(provider, "4")
    assert service.upstream.present is True
    assert not service.enabled and service.flagged
    assert service.flag_reason == "back upstream: re-enable after review"
    assert (Kind.RESTORED, "present", "no", "yes") in changes(back, service=service)


def test_unsold_upstream_services_removed_and_restored_are_logged(pricing, simulator, provider_for):
    sim = simulator(services=5)
    provider = provider_for(sim)
    sync(provider)
    sim.change(remove=[2])
    removed = sync(provider)
    assert changes(removed) == [(Kind.REMOVED, "present", "yes", "no")]
    sim.change(add=[{"service": 2, "name": "Two", "rate": "1", "min": 1, "max": 10}])
    restored = sync(provider)
    assert [row[0] for row in changes(restored)] == [Kind.RESTORED]


def test_retyped_upstream_service_is_disabled_and_flagged(pricing, simulator, provider_for):
    sim = simulator(services=20)
    provider = provider_for(sim, auto_import=True)
    sync(provider)
    upstream_id = next(str(row["service"]) for row in sim.listing() if row["type"] == "Default")
    sim.change(update={upstream_id: {"type": "Package"}})
    run = sync(provider)
    service = ours(provider, upstream_id)
    assert not service.enabled and service.flagged
    assert service.type == "Package"
    assert service.flag_reason == "type changed upstream: Default -> Package"
    assert (Kind.RETYPED, "type", "Default", "Package") in changes(run, service=service)


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("Custom Comments", "Custom Comments"),
        ("custom_comments", "Custom Comments"),
        ("Custom-Comments", "Custom Comments"),
        ("CUSTOM COMMENTS", "Custom Comments"),
        ("mentions_with_hashtags", "Mentions with Hashtags"),
        ("Mentions  with   hashtags", "Mentions with Hashtags"),
        ("comment_likes", "Comment Likes"),
        ("custom_comments_package", "Custom Comments Package"),
        ("web-traffic", "Web Traffic"),
        (" seo ", "SEO"),
        ("Mentions", "Mentions"),
        ("Likes", None),
        ("", None),
    ],
)
def test_known_type_ignores_case_underscores_hyphens_and_spacing(spelling, expected):
    assert known_type(spelling) == expected


TYPE_SPELLINGS = ["custom_comments", "mentions_with_hashtags", "comment_likes", "Custom-Comments",
                  "Mentions  with   hashtags"]  # fmt: skip


def test_services_typed_in_any_spelling_are_imported_and_not_retyped(pricing, simulator, provider_for):
    sim = simulator(services=3)
    sim.change(add=[{"service": 500 + n, "name": f"Typed {n}", "type": spelling, "rate": "2", "min": 10, "max": 1000}
                    for n, spelling in enumerate(TYPE_SPELLINGS)])  # fmt: skip
    assert [row["type"] for row in sim.listing()[3:]] == TYPE_SPELLINGS  # served as the provider spells them
    provider = provider_for(sim, auto_import=True)
    run = sync(provider)
    assert run.created == 8
    assert [ours(provider, str(500 + n)).type for n in range(5)] == [
        "Custom Comments",
        "Mentions with Hashtags",
        "Comment Likes",
        "Custom Comments",
        "Mentions with Hashtags",
    ]
    # The provider tidies its spelling: the same type, so nothing is disabled.
    sim.change(update={"500": {"type": "Custom Comments"}, "504": {"type": "mentions-with-hashtags"}})
    run = sync(provider)
    for upstream_id in ("500", "504"):
        service = ours(provider, upstream_id)
        assert service.enabled and not service.flagged, service.flag_reason
    assert not ServiceChange.objects.filter(sync_run=run, kind=Kind.RETYPED).exists()


def test_upstream_rate_above_a_fixed_price_raises_it_and_flags_below_cost(pricing, simulator, provider_for):
    sim = simulator(services=5)
    provider = provider_for(sim, auto_import=True)
    sync(provider)
    Service.objects.filter(upstream__provider=provider, upstream__upstream_id="1").update(fixed_rate=D("2.00"))
    sim.change(update={"1": {"rate": "1.50"}})
    sync(provider)
    assert ours(provider, "1").rate == D("2.00")
    sim.change(update={"1": {"rate": "2.50"}})
    run = sync(provider)
    service = ours(provider, "1")
    # Never sold below cost: the markup rules' price replaces the fixed one, and staff are told.
    assert service.rate == D("3.7500") and service.below_cost and service.flagged
    assert (Kind.BELOW_COST, "rate", "2.00000", "3.75000") in changes(run, service=service)
    assert sync(provider).changes == 0  # flagged once, not at every sync


def test_loss_leader_keeps_its_price_through_sync(pricing, simulator, provider_for):
    sim = simulator(services=5)
    provider = provider_for(sim, auto_import=True)
    sync(provider)
    Service.objects.filter(upstream__upstream_id="1", upstream__provider=provider).update(
        fixed_rate=D("0.01"), allow_below_cost=True, rate=D("0.01")
    )
    run = sync(provider)
    service = ours(provider, "1")
    assert (service.rate, service.below_cost, service.flagged) == (D("0.01"), False, False)
    assert run.changes == 0


def test_new_upstream_services_are_imported_later(pricing, simulator, provider_for):
    sim = simulator(services=5)
    provider = provider_for(sim, auto_import=True)
    sync(provider)
    sim.change(
        add=[
            {"service": 100, "name": "Fresh", "rate": "2.00", "min": 10, "max": 500, "category": "New things"},
            {"service": 101, "name": "Fresher", "rate": "3.00", "min": 10, "max": 500, "category": "New things"},
        ]
    )
    run = sync(provider)
    assert run.created == 2
    service = ours(provider, "100")
    assert (service.category.name, service.rate, service.enabled) == ("New things", D("3.0000"), True)
    assert Category.objects.filter(name="New things").count() == 1
    assert [row[0] for row in changes(run)] == [Kind.IMPORTED, Kind.IMPORTED]


def test_import_existing_brings_in_services_seen_before_auto_import(pricing, simulator, provider_for):
    sim = simulator(services=8)
    provider = provider_for(sim)
    sync(provider)
    ProviderImport.objects.create(provider=provider, auto_import=True)
    assert sync(provider).created == 0  # not new: auto-import is for services that appear
    run = sync(provider, import_existing=True)
    assert run.created == 8
    assert sync(provider, import_existing=True).created == 0


def test_provider_error_changes_nothing_and_is_recorded(pricing, simulator, provider_for):
    sim = simulator(services=5)
    provider = provider_for(sim, auto_import=True)
    sync(provider)
    sim.faults(http_500_rate=1)
    run = sync_provider(provider_id=provider.pk)
    assert run.ok is False and "HTTP 500" in run.error
    assert run.finished_at is not None and run.duration_ms is not None
    assert Service.objects.filter(enabled=True).count() == 5


def test_an_empty_list_is_refused_rather_than_disabling_everything(pricing, simulator, provider_for):
    sim = simulator(services=5)
    provider = provider_for(sim, auto_import=True)
    sync(provider)
    sim.change(remove=[1, 2, 3, 4, 5])
    run = sync_provider(provider_id=provider.pk)
    assert run.ok is False and "no services" in run.error
    assert Service.objects.filter(enabled=True).count() == 5
    assert UpstreamService.objects.filter(present=True).count() == 5


def test_sync_services_command(pricing, simulator, provider_for):
    sim = simulator(services=6)
    provider = provider_for(sim, auto_import=True)
    provider_for(simulator(services=3), enabled=False)
    call_command("sync_services")
    assert Service.objects.count() == 6  # the disabled provider was skipped
    call_command("sync_services", "--provider", provider.name)
    assert SyncRun.objects.filter(provider=provider).count() == 2


def test_seed_catalog_is_idempotent(pricing, simulator, provider_for):
    sim = simulator(services=12)
    provider = provider_for(sim)
    sync(provider)  # the beat got there first: nothing is new any more
    call_command("seed_catalog", provider.name, "--category-prefix", "Demo ")
    assert Service.objects.filter(upstream__provider=provider).count() == 12
    assert ProviderImport.objects.get(provider=provider).auto_import
    call_command("seed_catalog", provider.name)
    assert Service.objects.filter(upstream__provider=provider).count() == 12
    assert Category.objects.filter(name__startswith="Demo ").exists()


@pytest.mark.parametrize("phase", ["first", "changed"])
def test_queries_do_not_grow_with_the_number_of_services(pricing, simulator, provider_for, phase):
    counts = {}
    for size in (1000, 3000):
        sim = simulator(services=size, seed=size)
        provider = provider_for(sim, auto_import=True)
        if phase == "changed":
            sync(provider)
            step = 10
            sim.change(
                update={str(i): {"rate": "9.99", "max": 123456} for i in range(1, size + 1, step)},
                remove=list(range(5, size + 1, 50)),
            )
        with CaptureQueriesContext(connection) as queries:
            sync(provider)
        counts[size] = len(queries)
    # Three bulk statements write 1,000 rows each (upstream services, our services, the change
    # log), so 2,000 more services may add up to six; nothing is done per service.
    assert counts[3000] - counts[1000] <= 3 * 2, counts
    assert counts[1000] <= 25, counts
