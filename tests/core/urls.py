"""Views that raise each kind of error, to check the one error shape (test-only URLconf)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
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


urlpatterns = [
    path("validate", Validate.as_view()),
    path("private", _raising(Exception("never reached"), permission=IsAuthenticated)),
    path("missing", _raising(Http404())),
    path("conflict", _raising(Conflict("Already there.", code="duplicate"))),
    path("too-large", _raising(PayloadTooLarge())),
    path("integrity", _raising(IntegrityError("duplicate key value violates unique constraint"))),
    path("django-validation", _raising(DjangoValidationError({"email": ["Bad e-mail."]}))),
    path("throttled", Throttled.as_view()),
]
