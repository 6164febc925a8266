from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from auth_app.tasks import purge_expired_refresh_tokens, send_password_reset_email
from tests.auth_app.factories import UserFactory
from tests.auth_app.helpers import LOGOUT_URL, signed_in


@pytest.mark.django_db
def test_purge_deletes_expired_refresh_tokens_and_their_blacklist_entries(anon_client):
    # given: three sessions; one expired and revoked, one expired, one alive
    user = UserFactory()
    sessions = [signed_in(user) for _ in range(3)]
    anon_client.post(LOGOUT_URL, {"refresh": sessions[0]["refresh"]}, format="json")
    jtis = list(OutstandingToken.objects.order_by("id").values_list("jti", flat=True))
    OutstandingToken.objects.filter(jti__in=jtis[:2]).update(expires_at=timezone.now() - timedelta(seconds=1))

    # when
    purged = purge_expired_refresh_tokens.delay().get()

    # then
    assert purged == 2
    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == [jtis[2]]
    assert not BlacklistedToken.objects.exists()
    assert purge_expired_refresh_tokens.delay().get() == 0


def test_the_purge_is_scheduled_daily():
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert purge_expired_refresh_tokens.name in schedule


@pytest.mark.django_db
def test_no_reset_email_for_an_account_that_can_no_longer_use_it(mailoutbox):
    user = UserFactory(is_active=False)

    assert send_password_reset_email.delay(str(user.pk)).get() is False
    assert send_password_reset_email.delay("not-a-uuid").get() is False
    assert mailoutbox == []
