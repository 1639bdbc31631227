"""The title's words in a column of their own, with its own index (Article.title_vector): a search for a
word thousands of articles hold ranks at most knowledge.search.CANDIDATE_LIMIT of them, and the articles
with the word in their title must be among those. The weighted vector's index tells which articles hold a
word, not where: telling title from body means reading every such row. The row trigger of 0009 fills the
column as it fills search_vector; the articles already stored are filled here (setting only this column
fires no trigger)."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations

SEARCH_UPDATE = """
CREATE OR REPLACE FUNCTION knowledge_article_search_update() RETURNS trigger AS $$
BEGIN
    NEW.title_vector := knowledge_search_vector(NEW.search_config::regconfig, coalesce(NEW.title, ''));
    NEW.search_vector :=
        setweight(NEW.title_vector, 'A') ||
        setweight(knowledge_search_vector(NEW.search_config::regconfig,
                  replace(coalesce(NEW.tags, ''), ',', ' ') || ' ' || coalesce(NEW.excerpt, '')), 'B') ||
        setweight(knowledge_search_vector(NEW.search_config::regconfig, coalesce(NEW.body, '')), 'C');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

UPDATE knowledge_article
SET title_vector = knowledge_search_vector(search_config::regconfig, coalesce(title, ''));
"""

# As 0009 made it.
PREVIOUS = """
CREATE OR REPLACE FUNCTION knowledge_article_search_update() RETURNS trigger AS $$
BEGIN
    NEW.search_vector :=
        setweight(knowledge_search_vector(NEW.search_config::regconfig, coalesce(NEW.title, '')), 'A') ||
        setweight(knowledge_search_vector(NEW.search_config::regconfig,
                  replace(coalesce(NEW.tags, ''), ',', ' ') || ' ' || coalesce(NEW.excerpt, '')), 'B') ||
        setweight(knowledge_search_vector(NEW.search_config::regconfig, coalesce(NEW.body, '')), 'C');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0011_tags_spelled_alike")]

    operations = [
        migrations.AddField(
            model_name="article",
            name="title_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.RunSQL(SEARCH_UPDATE, PREVIOUS),
        migrations.AddIndex(
            model_name="article",
            index=django.contrib.postgres.indexes.GinIndex(fields=["title_vector"], name="article_title_search"),
        ),
    ]
