"""Chat routes: send a message (streamed or not), history, regenerate, switch branch."""

urlpatterns: list = []
