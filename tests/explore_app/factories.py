import factory
from django.utils import timezone

from explore_app.models import LeaderboardEntry
from tests.models_app.factories import AIModelFactory


class LeaderboardEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeaderboardEntry

    period = LeaderboardEntry.Period.ALL
    model = factory.SubFactory(AIModelFactory)
    rank = factory.Sequence(lambda n: n + 1)
    elo = 1000.0
    computed_at = factory.LazyFunction(timezone.now)
