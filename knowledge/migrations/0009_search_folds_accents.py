"""Article search folds accents ("cafe" finds "Café", "résumé" finds "resume"), as the desk's ticket search
does (helpdesk/accents.py), on core PostgreSQL (normalize() and a regular expression; no unaccent).

knowledge_search_vector(config, text) is to_tsvector of the text with its accents folded, each word at the
position it has in the text as written; where folding makes a word a stop word ("thé" is "the") the word
as written keeps that position instead, so it can still be found. The article's weighted vector is made of
it (title A, tags and excerpt B, body C), and the question is parsed by it (knowledge/search.py): an
article with accents counts as many words, at the same places, as the same article without them, so
ranking, phrases and cover density read it alike."""

from django.db import migrations

# helpdesk.accents.MARKS and MAY_FOLD as they stood when this was written: the combining diacritical
# marks, and the letters that may carry them (a text without any has nothing to fold, which a regular
# expression tells far faster than normalising it).
FOLD = "normalize(regexp_replace(normalize({text}, NFD), '[\\u0300-\\u036f]', '', 'g'), NFC)"
MAY_FOLD = "[\\u00c0-\\u024f\\u0300-\\u036f\\u0370-\\u04ff\\u1e00-\\u1fff]"

CREATE = f"""
CREATE FUNCTION knowledge_search_vector(config regconfig, document text) RETURNS tsvector AS $$
    WITH texts AS (
        SELECT CASE WHEN document ~ '{MAY_FOLD}' THEN {FOLD.format(text="document")} ELSE document END AS folded
    ), vectors AS (
        SELECT to_tsvector(config, folded) AS folded,
               CASE WHEN folded <> document THEN to_tsvector(config, document) END AS written
        FROM texts
    ), folded_positions AS (
        SELECT p FROM vectors, unnest(vectors.folded) f, unnest(f.positions) p
    ), written_only AS (  -- words as written at a place the folded text has none (a stop word there)
        SELECT w.lexeme, array_agg(p ORDER BY p) AS positions
        FROM vectors, unnest(vectors.written) w, unnest(w.positions) p
        WHERE p NOT IN (SELECT p FROM folded_positions)
        GROUP BY w.lexeme
    )
    SELECT CASE WHEN written IS NULL THEN folded ELSE (
        -- A tsvector is read from text: each lexeme quoted as PostgreSQL quotes it, then its positions.
        SELECT coalesce(string_agg(array_to_tsvector(ARRAY[lexeme])::text || ':'
                                   || array_to_string(positions, ','), ' '), '')::tsvector
        FROM (SELECT lexeme, positions FROM unnest(folded)
              UNION ALL SELECT lexeme, positions FROM written_only) merged
    ) END
    FROM vectors
$$ LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;

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

# As 0002 made it: the words as written only.
PREVIOUS = """
CREATE OR REPLACE FUNCTION knowledge_article_search_update() RETURNS trigger AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector(NEW.search_config::regconfig, coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector(NEW.search_config::regconfig,
                  replace(coalesce(NEW.tags, ''), ',', ' ') || ' ' || coalesce(NEW.excerpt, '')), 'B') ||
        setweight(to_tsvector(NEW.search_config::regconfig, coalesce(NEW.body, '')), 'C');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
DROP FUNCTION knowledge_search_vector(regconfig, text);
"""

# Only the articles with an accent change; the trigger makes their vectors again, and the search-term
# counts follow (0003's statement trigger).
REWRITE = f"""
UPDATE knowledge_article SET title = title
WHERE concat_ws(' ', title, tags, excerpt, body) ~ '{MAY_FOLD}'
  AND {FOLD.format(text="concat_ws(' ', title, tags, excerpt, body)")} <> concat_ws(' ', title, tags, excerpt, body);
"""


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0008_article_content_updated_at")]

    operations = [
        migrations.RunSQL(CREATE + REWRITE, PREVIOUS + REWRITE),
    ]
