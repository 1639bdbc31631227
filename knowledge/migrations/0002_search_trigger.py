from django.db import migrations

# The database keeps each article's weighted search vector current itself: title (A), tags and
# excerpt (B), body (C), in the article's text-search configuration (the site's language).
CREATE = """
CREATE FUNCTION knowledge_article_search_update() RETURNS trigger AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector(NEW.search_config::regconfig, coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector(NEW.search_config::regconfig,
                  replace(coalesce(NEW.tags, ''), ',', ' ') || ' ' || coalesce(NEW.excerpt, '')), 'B') ||
        setweight(to_tsvector(NEW.search_config::regconfig, coalesce(NEW.body, '')), 'C');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER knowledge_article_search
BEFORE INSERT OR UPDATE OF title, tags, excerpt, body, search_config ON knowledge_article
FOR EACH ROW EXECUTE FUNCTION knowledge_article_search_update();
"""

DROP = """
DROP TRIGGER IF EXISTS knowledge_article_search ON knowledge_article;
DROP FUNCTION IF EXISTS knowledge_article_search_update();
"""


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
