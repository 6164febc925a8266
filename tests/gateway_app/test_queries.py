"""The gateway's lists read a constant number of rows' worth of queries, whatever the catalogue's size."""

from __future__ import annotations

import pytest

from auth_app.services.api_keys import create_api_key
from gateway_app.services import gateway_models_list
from tests.models_app.factories import AIModelFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("size", [2, 30])
def test_listing_models_takes_the_same_queries_at_any_catalogue_size(user, size, django_assert_num_queries):
    _key, raw = create_api_key(user, name="k")
    AIModelFactory.create_batch(size, is_active=True)
    AIModelFactory(is_active=False)
    gateway_models_list(raw_key=raw)  # the key's last use is written once a minute: not in the count

    # key + user; published models; their tags
    with django_assert_num_queries(3):
        models = gateway_models_list(raw_key=raw)

    assert len(models) == size
