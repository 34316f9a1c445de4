import pytest


@pytest.fixture(autouse=True)
def _fresh_brand(db, plain_static_storage):
    # The branding is cached (Redis in tests): each test starts from its own database's row.
    from site_pages.selectors import brand_forget

    brand_forget()
    yield
    brand_forget()
