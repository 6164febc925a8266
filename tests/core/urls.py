"""Views that raise each kind of error, to check the one error shape (test-only URLconf)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.http import Http404
from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from core.exceptions import Conflict, PayloadTooLarge


class _Input(serializers.Serializer):
    name = serializers.CharField(max_length=5)
    count = serializers.IntegerField(min_value=0)


class Validate(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        _Input(data=request.data).is_valid(raise_exception=True)
        return Response({})


def _raising(exc, permission=AllowAny, throttle=None):
    class View(APIView):
        permission_classes = [permission]
        throttle_classes = [throttle] if throttle else []

        def get(self, request):
            raise exc

    return View.as_view()


class OncePerMinute(AnonRateThrottle):
    rate = "1/min"


class Throttled(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [OncePerMinute]

    def get(self, request):
        return Response({"ok": True})


# One row that satisfies every constraint of the probe table, then one that violates one of them.
VIOLATIONS = {
    "unique": "INSERT INTO integrity_probe (id, quantity) VALUES (1, 1)",
    "exclusion": "INSERT INTO integrity_probe (id, quantity, span) VALUES (2, 1, '[5,15)')",
    "check": "INSERT INTO integrity_probe (id, quantity) VALUES (2, 0)",
    "not_null": "INSERT INTO integrity_probe (id, quantity) VALUES (2, NULL)",
    "foreign_key": "INSERT INTO integrity_probe (id, quantity, parent_id) VALUES (2, 1, 99)",
}


PROBE_TABLE = (
    "CREATE TEMP TABLE integrity_probe (id int PRIMARY KEY, quantity int NOT NULL CHECK (quantity > 0),"
    " parent_id int REFERENCES integrity_probe (id), span int4range, EXCLUDE USING gist (span WITH &&))"
)


class Violate(APIView):
    """Writes a good row and then one that breaks a constraint of the kind named in the URL (into the
    temporary table PROBE_TABLE, which the test creates)."""

    permission_classes = [AllowAny]

    def post(self, request, violation):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO integrity_probe (id, quantity, span) VALUES (1, 1, '[0,10)')")
            cursor.execute(VIOLATIONS[violation])
        return Response({})


urlpatterns = [
    path("validate", Validate.as_view()),
    path("private", _raising(Exception("never reached"), permission=IsAuthenticated)),
    path("missing", _raising(Http404())),
    path("conflict", _raising(Conflict("Already there.", code="duplicate"))),
    path("too-large", _raising(PayloadTooLarge())),
    # Under /api/ so that Django's 500 is the API's (core.exceptions.server_error_view).
    path("api/integrity/<str:violation>", Violate.as_view()),
    path("django-validation", _raising(DjangoValidationError({"email": ["Bad e-mail."]}))),
    path("throttled", Throttled.as_view()),
]

handler500 = "core.exceptions.server_error_view"
