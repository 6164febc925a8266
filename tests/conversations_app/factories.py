import hashlib
from datetime import timedelta

import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from conversations_app.models import (
    AIResponse,
    Attachment,
    Conversation,
    ConversationPromptResponse,
    Feedback,
    Folder,
    Note,
    Prompt,
    SharedLink,
)
from tests.auth_app.factories import UserFactory
from tests.models_app.factories import AIModelFactory


class FolderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Folder

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Folder {n}")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    owner = factory.SubFactory(UserFactory)
    model = factory.SubFactory(AIModelFactory)
    model_name = factory.LazyAttribute(lambda o: o.model.name)
    title = factory.Sequence(lambda n: f"Conversation {n}")


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prompt

    content = "Why is the sky blue?"


class AIResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AIResponse

    content = "Because of Rayleigh scattering of sunlight by the molecules of the air."
    model_name = "llama3.2:3b"
    status = AIResponse.Status.COMPLETE
    done_reason = "stop"
    completed_at = factory.LazyFunction(timezone.now)
    eval_count = 42
    prompt_eval_count = 12


class ExchangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConversationPromptResponse

    conversation = factory.SubFactory(ConversationFactory)
    prompt = factory.SubFactory(PromptFactory)
    response = factory.SubFactory(AIResponseFactory)
    parent = None
    position = factory.LazyAttribute(lambda o: o.parent.position + 1 if o.parent else 0)


class FeedbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feedback

    response = factory.SubFactory(AIResponseFactory)
    user = factory.SubFactory(UserFactory)
    rating = Feedback.Rating.UP


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Note

    response = factory.SubFactory(AIResponseFactory)
    owner = factory.SubFactory(UserFactory)
    content = "Worth remembering"
    from_index = 0
    to_index = 7


class AttachmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attachment

    class Params:
        data = b"hello attachment"

    conversation = factory.SubFactory(ConversationFactory)
    uploader = factory.LazyAttribute(lambda o: o.conversation.owner)
    original_name = "notes.txt"
    content_type = "text/plain"
    size = factory.LazyAttribute(lambda o: len(o.data))
    sha256 = factory.LazyAttribute(lambda o: hashlib.sha256(o.data).hexdigest())
    file = factory.LazyAttribute(lambda o: ContentFile(o.data, name="upload"))


class SharedLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SharedLink

    conversation = factory.SubFactory(ConversationFactory)
    owner = factory.LazyAttribute(lambda o: o.conversation.owner)
    token_hash = factory.Sequence(lambda n: hashlib.sha256(f"token {n}".encode()).hexdigest())
    title = factory.LazyAttribute(lambda o: o.conversation.title)
    exchange_count = 1
    snapshot = factory.LazyFunction(lambda: {"title": "", "model_name": "llama3.2:3b", "exchanges": []})
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
