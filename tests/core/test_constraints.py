"""Every check and unique constraint is enforced by PostgreSQL itself: rows inserted without
validation that break one are refused with an IntegrityError naming it."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Now
from django.utils import timezone

from admin_app.models import AuditEvent, SystemMessage
from auth_app.models import ApiKey, ApiUsage, User
from auth_app.services.api_keys import create_api_key
from conversations_app.models import (
    ConversationLabel,
    Feedback,
    Folder,
    Label,
    TransferJob,
)
from models_app.models import ModelTag, RoleModelAccess, Tag
from tests.admin_app.factories import ModelPullFactory, SystemMessageFactory
from tests.auth_app.factories import UserFactory
from tests.conversations_app.factories import (
    AIResponseFactory,
    AttachmentFactory,
    ConversationFactory,
    ExchangeFactory,
    FeedbackFactory,
    FolderFactory,
    NoteFactory,
    PromptFactory,
    SharedLinkFactory,
)
from tests.explore_app.factories import LeaderboardEntryFactory
from tests.models_app.factories import AIModelFactory, ModelTagFactory, TagFactory

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("auth_app", "models_app", "conversations_app", "admin_app", "explore_app")


def _update(instance: models.Model, **values) -> None:
    type(instance)._base_manager.filter(pk=instance.pk).update(**values)


def _duplicate_user() -> None:
    existing = UserFactory(email="Ada@Example.com", username="ada")
    User.objects.create(username="other", email=existing.email.lower(), password="x")


def _api_key() -> ApiKey:
    return create_api_key(UserFactory(), name="laptop")[0]


def _second_live_key_named_alike() -> None:
    key = _api_key()
    ApiKey.objects.create(user=key.user, name="LAPTOP", prefix="other123", key_hash="0" * 64)


def _second_usage_row_without_key() -> None:
    user = UserFactory()
    day = timezone.now().date()
    ApiUsage.objects.create(user=user, api_key=None, day=day)
    ApiUsage.objects.create(user=user, api_key=None, day=day)


def _usage_row() -> ApiUsage:
    return ApiUsage.objects.create(user=UserFactory(), day=timezone.now().date())


def _user_role_id() -> int:
    from django.contrib.auth.models import Group

    return Group.objects.get(name="User").pk


def _role_access_twice(**target) -> None:
    RoleModelAccess.objects.create(role_id=_user_role_id(), **target)
    RoleModelAccess.objects.create(role_id=_user_role_id(), **target)


def _sibling_folder() -> None:
    folder = FolderFactory(name="Projects")
    Folder.objects.create(owner=folder.owner, parent=None, name="projects")


def _root_exchange_with_position() -> None:
    ExchangeFactory(position=3)


def _imported_twice() -> None:
    first = ConversationFactory(import_source="chatgpt", import_source_id="abc")
    ConversationFactory(owner=first.owner, import_source="chatgpt", import_source_id="abc")


def _transfer(**values) -> TransferJob:
    return TransferJob.objects.create(owner=UserFactory(), **{"kind": "import", **values})


def _same_label_other_case() -> None:
    label = Label.objects.create(owner=UserFactory(), name="Work")
    Label.objects.create(owner=label.owner, name="WORK")


def _label_twice_on_a_conversation() -> None:
    conversation = ConversationFactory()
    label = Label.objects.create(owner=conversation.owner, name="Work")
    ConversationLabel.objects.create(conversation=conversation, label=label)
    ConversationLabel.objects.create(conversation=conversation, label=label)


def _second_feedback() -> None:
    feedback = FeedbackFactory()
    Feedback.objects.create(response=feedback.response, user=feedback.user, rating=-1)


CASES: dict[str, Callable[[], object]] = {
    "auth_user_email_ci_alive_uniq": _duplicate_user,
    "auth_user_username_ci_alive_uniq": lambda: (
        UserFactory(username="Grace"),
        User.objects.create(username="grace", email="g2@example.com"),
    ),
    "auth_user_username_not_blank": lambda: User.objects.create(username="", email="a@b.c"),
    "auth_user_email_has_at": lambda: User.objects.create(username="nobody", email=""),
    "auth_user_failed_login_count_check": lambda: _update(UserFactory(), failed_login_count=-1),
    "auth_user_version_check": lambda: _update(UserFactory(), version=-1),
    "auth_user_api_requests_per_minute_check": lambda: _update(UserFactory(), api_requests_per_minute=-1),
    "auth_user_api_tokens_per_day_check": lambda: _update(UserFactory(), api_tokens_per_day=-1),
    "auth_apikey_name_ci_live_uniq": _second_live_key_named_alike,
    "auth_apikey_name_not_blank": lambda: _update(_api_key(), name=""),
    "auth_apikey_hash_not_blank": lambda: _update(_api_key(), key_hash=""),
    "auth_apikey_scopes_valid": lambda: _update(_api_key(), scopes=["chat", "admin"]),
    "auth_app_apikey_requests_per_minute_check": lambda: _update(_api_key(), requests_per_minute=-1),
    "auth_app_apikey_tokens_per_day_check": lambda: _update(_api_key(), tokens_per_day=-1),
    "auth_apiusage_user_key_day_uniq": _second_usage_row_without_key,
    "auth_app_apiusage_requests_check": lambda: _update(_usage_row(), requests=-1),
    "auth_app_apiusage_prompt_tokens_check": lambda: _update(_usage_row(), prompt_tokens=-1),
    "auth_app_apiusage_eval_tokens_check": lambda: _update(_usage_row(), eval_tokens=-1),
    "auth_user_approval_status_valid": lambda: _update(UserFactory(is_active=False), approval_status="maybe"),
    "auth_user_active_only_if_approved": lambda: _update(UserFactory(), approval_status="pending"),
    "models_roleaccess_model_xor_tag": lambda: RoleModelAccess.objects.create(role_id=_user_role_id()),
    "models_roleaccess_model_uniq": lambda: _role_access_twice(model=AIModelFactory()),
    "models_roleaccess_tag_uniq": lambda: _role_access_twice(tag=TagFactory()),
    "models_tag_name_ci_alive_uniq": lambda: (
        TagFactory(name="Code"),
        Tag.objects.create(name="code", slug="c2"),
    ),
    "models_tag_slug_alive_uniq": lambda: (
        TagFactory(slug="code"),
        Tag.objects.create(name="Other", slug="code"),
    ),
    "models_tag_name_not_blank": lambda: Tag.objects.create(name="", slug="x"),
    "models_tag_slug_not_blank": lambda: Tag.objects.create(name="x", slug=""),
    "models_app_tag_version_check": lambda: _update(TagFactory(), version=-1),
    "models_aimodel_name_ci_alive_uniq": lambda: (
        AIModelFactory(name="llama3.2:3b"),
        AIModelFactory(name="LLAMA3.2:3b"),
    ),
    "models_aimodel_name_not_blank": lambda: AIModelFactory(name=""),
    "models_aimodel_size_non_negative": lambda: AIModelFactory(size=-1),
    "models_aimodel_parameter_count_non_negative": lambda: AIModelFactory(parameter_count=-5),
    "models_app_aimodel_context_length_check": lambda: AIModelFactory(context_length=-1),
    "models_aimodel_install_progress_percent": lambda: AIModelFactory(install_progress=101),
    "models_aimodel_install_status_valid": lambda: AIModelFactory(install_status="exploded"),
    "models_aimodel_model_type_valid": lambda: AIModelFactory(model_type="toaster"),
    "models_app_aimodel_install_progress_check": lambda: _update(AIModelFactory(), install_progress=-1),
    "models_app_aimodel_quantization_version_check": lambda: AIModelFactory(quantization_version=-1),
    "models_app_aimodel_file_type_check": lambda: AIModelFactory(file_type=-1),
    "models_app_aimodel_version_check": lambda: _update(AIModelFactory(), version=-1),
    "models_modeltag_pair_uniq": lambda: (lambda mt: ModelTag.objects.create(model=mt.model, tag=mt.tag))(
        ModelTagFactory()
    ),
    "conv_folder_name_ci_alive_uniq": _sibling_folder,
    "conv_folder_name_not_blank": lambda: FolderFactory(name=""),
    "conv_folder_not_own_parent": lambda: (lambda f: _update(f, parent=f.pk))(FolderFactory()),
    "conversations_app_folder_version_check": lambda: _update(FolderFactory(), version=-1),
    "conv_conversation_model_name_not_blank": lambda: ConversationFactory(model_name=""),
    "conv_conversation_source_valid": lambda: ConversationFactory(source="mail"),
    "conv_conversation_key_only_api": lambda: (lambda key: ConversationFactory(owner=key.user, api_key=key))(
        _api_key()
    ),
    "conv_conversation_import_source_valid": lambda: ConversationFactory(
        import_source="myspace", import_source_id="1"
    ),
    "conv_conversation_import_uniq_alive": _imported_twice,
    "conv_transfer_kind_valid": lambda: _transfer(kind="sync"),
    "conv_transfer_status_valid": lambda: _transfer(status="paused"),
    "conv_transfer_finished_iff_done": lambda: _transfer(status="succeeded", finished_at=None),
    "conv_transfer_source_format_valid": lambda: _transfer(source_format="myspace"),
    "conversations_app_transferjob_processed_check": lambda: _update(_transfer(), processed=-1),
    "conversations_app_transferjob_size_check": lambda: _update(_transfer(), size=-1),
    "conv_label_name_ci_alive_uniq": _same_label_other_case,
    "conv_label_name_not_blank": lambda: Label.objects.create(owner=UserFactory(), name=""),
    "conversations_app_label_version_check": lambda: Label.objects.create(
        owner=UserFactory(), name="x", version=-1
    ),
    "conv_label_link_uniq": _label_twice_on_a_conversation,
    "conversations_app_conversation_message_count_check": lambda: _update(
        ConversationFactory(), message_count=-1
    ),
    "conversations_app_conversation_prompt_tokens_check": lambda: _update(
        ConversationFactory(), prompt_tokens=-1
    ),
    "conversations_app_conversation_completion_tokens_check": lambda: _update(
        ConversationFactory(), completion_tokens=-1
    ),
    "conversations_app_conversation_version_check": lambda: _update(ConversationFactory(), version=-1),
    "conversations_app_prompt_token_count_check": lambda: PromptFactory(token_count=-1),
    "conversations_app_prompt_history_omitted_check": lambda: PromptFactory(history_omitted=-1),
    "conversations_app_prompt_image_count_check": lambda: PromptFactory(image_count=-1),
    "conv_response_status_valid": lambda: AIResponseFactory(status="done-ish"),
    "conv_response_finished_has_completed_at": lambda: AIResponseFactory(
        status="complete", completed_at=None
    ),
    **{
        f"conversations_app_airesponse_{field}_check": (lambda f: lambda: AIResponseFactory(**{f: -1}))(field)
        for field in (
            "total_duration",
            "load_duration",
            "prompt_eval_count",
            "prompt_eval_duration",
            "eval_count",
            "eval_duration",
        )
    },
    "conv_exchange_position_matches_parent": _root_exchange_with_position,
    "conv_feedback_one_per_user_alive": _second_feedback,
    "conv_feedback_rating_valid": lambda: FeedbackFactory(rating=5),
    "conv_feedback_reason_valid": lambda: FeedbackFactory(reason="because"),
    "conversations_app_feedback_version_check": lambda: _update(FeedbackFactory(), version=-1),
    "conv_note_span_ordered": lambda: NoteFactory(from_index=5, to_index=5),
    "conv_note_content_not_blank": lambda: NoteFactory(content=""),
    "conversations_app_note_from_index_check": lambda: _update(NoteFactory(), from_index=-1),
    "conversations_app_note_version_check": lambda: _update(NoteFactory(), version=-1),
    "conv_attachment_size_within_limit": lambda: _update(AttachmentFactory(), size=10 * 1024 * 1024 + 1),
    "conversations_app_attachment_size_check": lambda: _update(AttachmentFactory(), size=-1),
    "conv_attachment_sha256_hex": lambda: _update(AttachmentFactory(), sha256="../../etc/passwd"),
    "conv_attachment_content_type_allowed": lambda: _update(
        AttachmentFactory(), content_type="application/x-elf"
    ),
    "conv_attachment_processing_status_valid": lambda: _update(AttachmentFactory(), processing_status="meh"),
    "conv_sharedlink_token_hash_hex": lambda: SharedLinkFactory(token_hash="the-token-itself"),
    "conv_sharedlink_expires_after_creation": lambda: SharedLinkFactory(
        expires_at=timezone.now() - timedelta(days=1)
    ),
    "conv_sharedlink_not_empty": lambda: SharedLinkFactory(exchange_count=0),
    "conversations_app_sharedlink_access_count_check": lambda: _update(SharedLinkFactory(), access_count=-1),
    "explore_leaderboard_period_model_uniq": lambda: (
        (entry := LeaderboardEntryFactory()),
        LeaderboardEntryFactory(model=entry.model),
    ),
    "explore_leaderboard_period_rank_uniq": lambda: (
        LeaderboardEntryFactory(rank=1),
        LeaderboardEntryFactory(rank=1),
    ),
    "explore_leaderboard_period_valid": lambda: LeaderboardEntryFactory(period="1y"),
    "explore_leaderboard_rank_positive": lambda: LeaderboardEntryFactory(rank=0),
    "explore_leaderboard_win_rate_range": lambda: LeaderboardEntryFactory(win_rate=1.5),
    "explore_leaderboard_confidence_range": lambda: LeaderboardEntryFactory(
        confidence_low=0.6, confidence_high=0.4
    ),
    "explore_leaderboard_consistency_range": lambda: LeaderboardEntryFactory(consistency=-0.1),
    "explore_app_leaderboardentry_comparisons_check": lambda: LeaderboardEntryFactory(comparisons=-1),
    "explore_app_leaderboardentry_thumbs_up_check": lambda: LeaderboardEntryFactory(thumbs_up=-1),
    "explore_app_leaderboardentry_thumbs_down_check": lambda: LeaderboardEntryFactory(thumbs_down=-1),
    "explore_app_leaderboardentry_self_comparisons_check": lambda: LeaderboardEntryFactory(
        self_comparisons=-1
    ),
    "admin_sysmsg_name_ci_alive_uniq": lambda: (
        SystemMessageFactory(name="Concise"),
        SystemMessage.objects.create(name="CONCISE", content="x"),
    ),
    "admin_sysmsg_name_not_blank": lambda: SystemMessageFactory(name=""),
    "admin_sysmsg_content_not_blank": lambda: SystemMessageFactory(content=""),
    "admin_app_systemmessage_version_check": lambda: _update(SystemMessageFactory(), version=-1),
    "admin_audit_action_not_blank": lambda: AuditEvent.objects.create(action=""),
    "admin_pull_one_active_per_model": lambda: (
        ModelPullFactory(model_name="llama3:8b", status="running", finished_at=None),
        ModelPullFactory(model_name="LLAMA3:8B", status="queued", finished_at=None),
    ),
    "admin_pull_model_name_not_blank": lambda: ModelPullFactory(model_name=""),
    "admin_pull_status_valid": lambda: _update(
        ModelPullFactory(status="queued", finished_at=None), status="paused"
    ),
    "admin_pull_percent_at_most_100": lambda: _update(ModelPullFactory(), percent=101),
    "admin_pull_finished_iff_done": lambda: _update(ModelPullFactory(), finished_at=None),
    "admin_app_modelpull_percent_check": lambda: _update(ModelPullFactory(), percent=-1),
    "admin_app_modelpull_completed_bytes_check": lambda: _update(ModelPullFactory(), completed_bytes=-1),
    "admin_app_modelpull_total_bytes_check": lambda: _update(ModelPullFactory(), total_bytes=-1),
}


def _database_constraints() -> set[str]:
    """Names of every CHECK and UNIQUE constraint or unique index on the project's own tables."""
    from django.db import connection

    names: set[str] = set()
    tables = [m._meta.db_table for app in PROJECT_APPS for m in apps.get_app_config(app).get_models()]
    with connection.cursor() as cursor:
        for table in tables:
            for name, info in connection.introspection.get_constraints(cursor, table).items():
                if (info["check"] or info["unique"]) and not info["primary_key"]:
                    names.add(name)
    return names


def test_every_check_and_unique_constraint_has_a_violation_case():
    """A new constraint without a case here fails this test; so does a case for one that is gone."""
    declared = {
        name
        for name in _database_constraints()
        if not name.endswith("_key")
        and not name.startswith(("auth_user_groups", "auth_user_user_permissions"))
    }
    assert declared - set(CASES) == set(), "constraints without a violation case"
    assert set(CASES) - declared == set(), "cases for constraints that do not exist"


@pytest.mark.parametrize("constraint", sorted(CASES))
def test_postgresql_refuses_rows_breaking(constraint):
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        CASES[constraint]()
    assert constraint in str(excinfo.value)


def test_audit_events_are_append_only():
    from django.db import InternalError, ProgrammingError

    event = AuditEvent.objects.create(action="user.login")
    for attempt in (
        lambda: AuditEvent.objects.filter(pk=event.pk).update(action="tampered"),
        lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
    ):
        with pytest.raises((InternalError, ProgrammingError)) as excinfo, transaction.atomic():
            attempt()
        assert "append-only" in str(excinfo.value)
    assert AuditEvent.objects.get(pk=event.pk).action == "user.login"


def test_database_defaults_fill_rows_inserted_by_raw_sql():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO models_app_tag (id, name, slug, description) "
            "VALUES (gen_random_uuid(), 'raw', 'raw', '') RETURNING created_at, version"
        )
        created_at, version = cursor.fetchone()
    assert version == 1
    assert created_at is not None
    assert Tag.objects.filter(created_at__gte=Now() - timedelta(minutes=1), name="raw").exists()
