from importlib import import_module

from django.db import migrations, models

# The published public articles per lexeme too: what a customer or visitor can read. A word only internal
# articles hold is, to them, a word no article holds (a typing slip to correct, not a word to look for).
# The trigger function of 0003 made again to keep both counts, one aggregate per statement as before.
UPSERT = """
    INSERT INTO knowledge_searchterm (lexeme, documents, public_documents)
    SELECT lexeme, sum(delta), sum(public_delta) FROM ({deltas}) d GROUP BY lexeme
    HAVING sum(delta) <> 0 OR sum(public_delta) <> 0 ORDER BY lexeme
    ON CONFLICT (lexeme) DO UPDATE SET documents = knowledge_searchterm.documents + EXCLUDED.documents,
        public_documents = knowledge_searchterm.public_documents + EXCLUDED.public_documents;
"""
COUNTED = """
    SELECT unnest(tsvector_to_array(search_vector)) AS lexeme, {sign} AS delta,
           CASE WHEN visibility = 'public' THEN {sign} ELSE 0 END AS public_delta
    FROM {rows} WHERE status = 'published'
    UNION ALL SELECT '', {sign}, CASE WHEN visibility = 'public' THEN {sign} ELSE 0 END
    FROM {rows} WHERE status = 'published'
"""
CHANGED = """
    WITH changed AS (
        SELECT o.search_vector AS old_vector, o.status = 'published' AS was_published,
               (o.status = 'published' AND o.visibility = 'public')::int AS was_public,
               n.search_vector AS new_vector, n.status = 'published' AS is_published,
               (n.status = 'published' AND n.visibility = 'public')::int AS is_public
        FROM old_rows o JOIN new_rows n USING (id)
        WHERE o.search_vector IS DISTINCT FROM n.search_vector OR o.status IS DISTINCT FROM n.status
           OR o.visibility IS DISTINCT FROM n.visibility
    )
    SELECT unnest(tsvector_to_array(new_vector)) AS lexeme, 1 AS delta, is_public AS public_delta
    FROM changed WHERE is_published
    UNION ALL SELECT '', 1, is_public FROM changed WHERE is_published
    UNION ALL SELECT unnest(tsvector_to_array(old_vector)), -1, -was_public FROM changed WHERE was_published
    UNION ALL SELECT '', -1, -was_public FROM changed WHERE was_published
"""
FUNCTION = f"""
CREATE OR REPLACE FUNCTION knowledge_article_terms_update() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {UPSERT.format(deltas=COUNTED.format(sign=1, rows="new_rows"))}
    ELSIF TG_OP = 'DELETE' THEN
        {UPSERT.format(deltas=COUNTED.format(sign=-1, rows="old_rows"))}
    ELSE
        {UPSERT.format(deltas=CHANGED)}
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

UPDATE knowledge_searchterm s SET public_documents = c.documents FROM (
    SELECT lexeme, count(*) AS documents FROM (
        SELECT unnest(tsvector_to_array(search_vector)) AS lexeme FROM knowledge_article
        WHERE status = 'published' AND visibility = 'public'
        UNION ALL SELECT '' FROM knowledge_article WHERE status = 'published' AND visibility = 'public'
    ) p GROUP BY lexeme
) c WHERE s.lexeme = c.lexeme;
"""

# Back to 0003's function, which keeps `documents` only.
_first = import_module("knowledge.migrations.0003_search_terms")
OLD_FUNCTION = _first.CREATE[: _first.CREATE.index("CREATE TRIGGER")].replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"
)


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0013_article_submission_key")]

    operations = [
        migrations.AddField(
            model_name="searchterm",
            name="public_documents",
            field=models.IntegerField(default=0, db_default=0),
        ),
        migrations.RunSQL(FUNCTION, OLD_FUNCTION),
    ]
