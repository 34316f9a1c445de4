"""Fallbacks of a service (automatic failover): what staff may list, as the service page checks it."""

import pytest
from django.core.exceptions import ValidationError

from catalog.models import ServiceFallback
from testing.failover import upstream_like
from testing.manual import make_manual_service


def test_a_fallback_of_the_same_type_at_another_provider_is_accepted(make_service, provider_for):
    service = make_service()
    fallback = ServiceFallback(service=service, upstream=upstream_like(service, provider_for()), position=1)
    fallback.full_clean()
    fallback.save()
    assert list(service.fallbacks.all()) == [fallback]


def test_a_fallback_at_the_service_own_provider_is_refused(make_service):
    service = make_service()
    same_provider = upstream_like(service, service.upstream.provider, upstream_id="99999")
    with pytest.raises(ValidationError, match="another provider"):
        ServiceFallback(service=service, upstream=same_provider).full_clean()


def test_a_fallback_of_another_type_is_refused_with_both_types(make_service, provider_for):
    service = make_service()
    other = provider_for()
    with pytest.raises(ValidationError, match="It sells Package; this service is Default"):
        ServiceFallback(service=service, upstream=upstream_like(service, other, type="Package")).full_clean()
    # Types compare as the catalogue compares them: spelling aside.
    spelled = upstream_like(service, other, upstream_id="77", type="default")
    ServiceFallback(service=service, upstream=spelled).full_clean()


def test_a_manual_service_has_no_fallbacks(make_service, provider_for):
    service = make_service()
    manual = make_manual_service()
    with pytest.raises(ValidationError, match="manual service"):
        ServiceFallback(service=manual, upstream=upstream_like(service, provider_for())).full_clean()


def test_the_same_fallback_twice_is_refused(make_service, provider_for):
    service = make_service()
    upstream = upstream_like(service, provider_for())
    ServiceFallback.objects.create(service=service, upstream=upstream)
    with pytest.raises(ValidationError):
        ServiceFallback(service=service, upstream=upstream, position=2).full_clean()
