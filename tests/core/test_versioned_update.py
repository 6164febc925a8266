import pytest

from core.exceptions import NotFound, PreconditionFailed
from core.services import parse_if_match, versioned_update
from models_app.models import Tag
from tests.models_app.factories import TagFactory

pytestmark = pytest.mark.django_db


def test_update_with_the_current_version_writes_and_bumps_it():
    tag = TagFactory(description="old")
    versioned_update(tag, fields={"description": "new"}, expected_version=1)
    row = Tag.objects.get(pk=tag.pk)
    assert (row.description, row.version, tag.version) == ("new", 2, 2)


def test_stale_version_raises_precondition_failed_and_leaves_the_row_unchanged():
    tag = TagFactory(description="old")
    versioned_update(tag, fields={"description": "first"})
    with pytest.raises(PreconditionFailed):
        versioned_update(tag, fields={"description": "second"}, expected_version=1)
    row = Tag.objects.get(pk=tag.pk)
    assert (row.description, row.version) == ("first", 2)


def test_update_of_a_row_that_no_longer_exists_is_not_found():
    tag = TagFactory()
    Tag.objects.filter(pk=tag.pk).delete()
    with pytest.raises(NotFound):
        versioned_update(tag, fields={"description": "x"}, expected_version=1)


@pytest.mark.parametrize(
    ("header", "expected"), [(None, None), ("", None), ('"3"', 3), ('W/"7"', 7), ("12", 12)]
)
def test_if_match_header_parsing(header, expected):
    assert parse_if_match(header) == expected


@pytest.mark.parametrize("header", ['"abc"', "*x", '"-1"'])
def test_if_match_garbage_is_a_failed_precondition(header):
    with pytest.raises(PreconditionFailed):
        parse_if_match(header)
