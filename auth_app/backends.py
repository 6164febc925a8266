"""Authentication backend: sign in with e-mail or username; refuses inactive, deleted or locked users."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class EmailOrUsernameBackend(ModelBackend):
    def authenticate(self, request, username: str | None = None, password: str | None = None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if not username or password is None:
            return None
        user = get_user_model().objects.by_login(username).first()
        if user is None:
            # Same cost as a real check, so timing does not tell which accounts exist.
            get_user_model()().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def user_can_authenticate(self, user) -> bool:
        return user.can_sign_in

    def get_user(self, user_id):
        user = get_user_model().objects.filter(pk=user_id).first()
        return user if user and self.user_can_authenticate(user) else None
