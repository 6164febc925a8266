import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    """A trigram index on the name with its letters apart from its digits ("llama 3.2:3b"), so that a typo
    in a name's word ("lama") is found by the search's fallback even when digits follow the word."""

    dependencies = [
        ("models_app", "0004_aimodel_context_length"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="aimodel",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    models.Func(
                        django.db.models.functions.text.Lower("name"),
                        models.Value("([[:alpha:]])([[:digit:]])"),
                        models.Value("\\1 \\2"),
                        models.Value("g"),
                        function="regexp_replace",
                        output_field=models.TextField(),
                    ),
                    name="gin_trgm_ops",
                ),
                fastupdate=False,
                name="models_aimodel_name_apart_trgm",
            ),
        ),
    ]
