from django.db import migrations, models

# Published articles per lexeme, kept by statement-level triggers with transition tables: one
# aggregate per statement, so a bulk import of 10,000 articles costs one upsert per distinct lexeme.
# Lexemes are upserted in sorted order, so concurrent edits lock the rows they share in one order.
UPSERT = """
    INSERT INTO knowledge_searchterm (lexeme, documents)
    SELECT lexeme, sum(delta) FROM ({deltas}) d GROUP BY lexeme HAVING sum(delta) <> 0 ORDER BY lexeme
    ON CONFLICT (lexeme) DO UPDATE SET documents = knowledge_searchterm.documents + EXCLUDED.documents;
"""
COUNTED = """
    SELECT unnest(tsvector_to_array(search_vector)) AS lexeme, {sign} AS delta FROM {rows}
    WHERE status = 'published'
    UNION ALL SELECT '', {sign} FROM {rows} WHERE status = 'published'
"""
CHANGED = """
    WITH changed AS (
        SELECT o.search_vector AS old_vector, o.status = 'published' AS was_published,
               n.search_vector AS new_vector, n.status = 'published' AS is_published
        FROM old_rows o JOIN new_rows n USING (id)
        WHERE o.search_vector IS DISTINCT FROM n.search_vector OR o.status IS DISTINCT FROM n.status
    )
    SELECT unnest(tsvector_to_array(new_vector)) AS lexeme, 1 AS delta FROM changed WHERE is_published
    UNION ALL SELECT '', 1 FROM changed WHERE is_published
    UNION ALL SELECT unnest(tsvector_to_array(old_vector)), -1 FROM changed WHERE was_published
    UNION ALL SELECT '', -1 FROM changed WHERE was_published
"""
CREATE = f"""
CREATE FUNCTION knowledge_article_terms_update() RETURNS trigger AS $$
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

CREATE TRIGGER knowledge_article_terms_insert AFTER INSERT ON knowledge_article
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION knowledge_article_terms_update();
CREATE TRIGGER knowledge_article_terms_update AFTER UPDATE ON knowledge_article
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION knowledge_article_terms_update();
CREATE TRIGGER knowledge_article_terms_delete AFTER DELETE ON knowledge_article
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION knowledge_article_terms_update();

INSERT INTO knowledge_searchterm (lexeme, documents)
SELECT lexeme, sum(delta) FROM ({COUNTED.format(sign=1, rows="knowledge_article")}) d GROUP BY lexeme;
"""

DROP = """
DROP TRIGGER IF EXISTS knowledge_article_terms_insert ON knowledge_article;
DROP TRIGGER IF EXISTS knowledge_article_terms_update ON knowledge_article;
DROP TRIGGER IF EXISTS knowledge_article_terms_delete ON knowledge_article;
DROP FUNCTION IF EXISTS knowledge_article_terms_update();
"""


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0002_search_trigger")]

    operations = [
        migrations.CreateModel(
            name="SearchTerm",
            fields=[
                ("lexeme", models.TextField(primary_key=True, serialize=False)),
                ("documents", models.IntegerField()),
            ],
        ),
        migrations.RunSQL(CREATE, DROP),
    ]
