"""The gateway's routes: `ollama_urlpatterns` at `/ollama/`, `openai_urlpatterns` at `/v1/`. Paths
are the dialects' own (no trailing slash); anything else is the dialect's 404."""

from django.urls import path, re_path

from gateway_app.views import ollama, openai

ollama_urlpatterns = [
    path("", ollama.RootView.as_view(), name="gateway-ollama-root"),
    path("api/version", ollama.VersionView.as_view(), name="gateway-ollama-version"),
    path("api/tags", ollama.TagsView.as_view(), name="gateway-ollama-tags"),
    path("api/show", ollama.ShowView.as_view(), name="gateway-ollama-show"),
    path("api/ps", ollama.PsView.as_view(), name="gateway-ollama-ps"),
    path("api/chat", ollama.ChatView.as_view(), name="gateway-ollama-chat"),
    path("api/generate", ollama.GenerateView.as_view(), name="gateway-ollama-generate"),
    path("api/embed", ollama.EmbedView.as_view(), name="gateway-ollama-embed"),
    path("api/embeddings", ollama.LegacyEmbeddingsView.as_view(), name="gateway-ollama-embeddings"),
    *[
        path(f"api/{operation}", ollama.management(operation), name=f"gateway-ollama-{operation}")
        for operation in ("pull", "push", "create", "copy", "delete")
    ],
    re_path(r"^.*$", ollama.NotFoundView.as_view()),
]

openai_urlpatterns = [
    path("models", openai.ModelsView.as_view(), name="gateway-openai-models"),
    path("models/<path:model>", openai.ModelView.as_view(), name="gateway-openai-model"),
    path("chat/completions", openai.ChatCompletionsView.as_view(), name="gateway-openai-chat"),
    path("completions", openai.CompletionsView.as_view(), name="gateway-openai-completions"),
    path("embeddings", openai.EmbeddingsView.as_view(), name="gateway-openai-embeddings"),
    re_path(r"^.*$", openai.NotFoundView.as_view()),
]
