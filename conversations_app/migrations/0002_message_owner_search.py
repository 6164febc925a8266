# The owner of each prompt and answer, denormalised from its conversation, so that search finds one
# user's messages without joining exchanges and conversations: through a composite GIN index (owner,
# search_vector) for rare words, through (owner, created_at DESC) for words in many messages. A
# trigger fills it when the exchange is inserted; existing rows are backfilled.

import django.contrib.postgres.indexes
import django.db.models.deletion
from django.conf import settings
from django.contrib.postgres.operations import BtreeGinExtension
from django.db import migrations, models

OWNER_TRIGGER = """
CREATE FUNCTION conv_exchange_message_owner() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    conversation_owner uuid;
BEGIN
    SELECT owner_id INTO conversation_owner
        FROM conversations_app_conversation WHERE id = NEW.conversation_id;
    UPDATE conversations_app_prompt SET owner_id = conversation_owner
        WHERE id = NEW.prompt_id AND owner_id IS DISTINCT FROM conversation_owner;
    UPDATE conversations_app_airesponse SET owner_id = conversation_owner
        WHERE id = NEW.response_id AND owner_id IS DISTINCT FROM conversation_owner;
    RETURN NULL;
END;
$$;

CREATE TRIGGER conv_exchange_message_owner
    AFTER INSERT ON conversations_app_conversationpromptresponse
    FOR EACH ROW EXECUTE FUNCTION conv_exchange_message_owner();

UPDATE conversations_app_prompt AS m SET owner_id = c.owner_id
    FROM conversations_app_conversationpromptresponse AS e
    JOIN conversations_app_conversation AS c ON c.id = e.conversation_id
    WHERE e.prompt_id = m.id;

UPDATE conversations_app_airesponse AS m SET owner_id = c.owner_id
    FROM conversations_app_conversationpromptresponse AS e
    JOIN conversations_app_conversation AS c ON c.id = e.conversation_id
    WHERE e.response_id = m.id;
"""

DROP_OWNER_TRIGGER = """
DROP TRIGGER conv_exchange_message_owner ON conversations_app_conversationpromptresponse;
DROP FUNCTION conv_exchange_message_owner();
"""


def owner_field():
    return models.ForeignKey(
        blank=True,
        db_index=False,
        editable=False,
        help_text="Set by the database from the exchange's conversation",
        null=True,
        on_delete=django.db.models.deletion.CASCADE,
        related_name="+",
        to=settings.AUTH_USER_MODEL,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("conversations_app", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        BtreeGinExtension(),
        migrations.AddField(model_name="prompt", name="owner", field=owner_field()),
        migrations.AddField(model_name="airesponse", name="owner", field=owner_field()),
        migrations.RemoveIndex(model_name="prompt", name="conv_prompt_search_gin"),
        migrations.RemoveIndex(model_name="airesponse", name="conv_response_search_gin"),
        migrations.AddIndex(
            model_name="prompt",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["owner", "search_vector"], name="conv_prompt_owner_search_gin"
            ),
        ),
        migrations.AddIndex(
            model_name="airesponse",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["owner", "search_vector"], name="conv_response_owner_search_gin"
            ),
        ),
        migrations.AddIndex(
            model_name="prompt",
            index=models.Index(
                models.F("owner"),
                models.F("created_at").desc(),
                condition=models.Q(("deleted_at__isnull", True)),
                name="conv_prompt_owner_recent_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="airesponse",
            index=models.Index(
                models.F("owner"),
                models.F("created_at").desc(),
                condition=models.Q(("deleted_at__isnull", True)),
                name="conv_response_owner_recent_idx",
            ),
        ),
        migrations.RunSQL(OWNER_TRIGGER, reverse_sql=DROP_OWNER_TRIGGER),
    ]
