"""KB search folds accents as the desk's ticket search does (knowledge 0009, knowledge/search.py): a
question typed without its accents finds the article written with them and the other way round, in any
language, with ranking, phrases, type-ahead, slips and excerpts as for words without accents."""

from io import StringIO

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from knowledge import services
from knowledge.models import Article, SearchTerm
from knowledge.search import MATCH_END, MATCH_START, search_articles
from tests.factories import make_administrator, make_agent, make_article, make_customer

pytestmark = pytest.mark.django_db


def titles(question: str, user=None) -> list[str]:
    return [hit.article.title for hit in search_articles(user or AnonymousUser(), question)]


def hits(question: str, user=None):
    return search_articles(user or AnonymousUser(), question)


def weights_of(article: Article) -> dict[str, str]:
    """lexeme -> the weights it carries in the article's search vector."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT lexeme, array_to_string(weights, '') FROM unnest("
            "(SELECT search_vector FROM knowledge_article WHERE id = %s))",
            [article.pk],
        )
        return dict(cursor.fetchall())


def exact_counts() -> dict[str, int]:
    """The per-lexeme document counts computed from scratch over the published articles."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT lexeme, count(*) FROM (
                   SELECT unnest(tsvector_to_array(search_vector)) AS lexeme FROM knowledge_article
                   WHERE status = 'published'
                   UNION ALL SELECT '' FROM knowledge_article WHERE status = 'published') t
               GROUP BY lexeme"""
        )
        return dict(cursor.fetchall())


def stored_counts() -> dict[str, int]:
    return {lexeme: n for lexeme, n in SearchTerm.objects.values_list("lexeme", "documents") if n}


# --- folding both ways, languages -------------------------------------------------------------------


def test_cafe_finds_cafe_with_accent_and_back():
    make_article("Café opening hours", body="We open at eight.")
    make_article("Printer jams", body="Paper jams in the tray.")
    assert titles("cafe") == ["Café opening hours"]
    assert titles("CAFÉ") == ["Café opening hours"]
    assert titles("café") == ["Café opening hours"]


def test_resume_with_accents_finds_plain_resume():
    make_article("Upload your resume", body="Send the resume as a PDF.")
    assert titles("résumé") == ["Upload your resume"]
    assert titles("Résumé upload") == ["Upload your resume"]


@pytest.mark.parametrize(
    ("title", "question"),
    [
        ("Mot de passe oublié à l'école", "oublie ecole"),
        ("Größe der Übertragung ändern", "ubertragung andern"),
        ("Cambiar la contraseña del año", "contrasena ano"),
        ("Żółty przycisk zapłaty", "zolty przycisk"),
        ("Ærø færge ø", "ærø"),
        ("Çà et là: naïve façade", "naive facade"),
        ("İstanbul office", "istanbul"),
        ("Καλημέρα κόσμε", "καλημερα"),
        ("Tiếng Việt support", "tieng viet"),
        ("Müller GmbH invoices", "Müller"),
        ("Núñez account", "nunez"),
    ],
)
def test_european_letters_fold(title, question):
    make_article(title, body="Text.")
    make_article("Unrelated printer article", body="Paper jams.")
    assert titles(question) == [title]


def test_letters_that_do_not_decompose_match_only_as_written():
    make_article("Biuro w Łodzi", body="Adres biura.")
    make_article("Straße und Hausnummer", body="Adresse.")
    assert titles("łodzi") == ["Biuro w Łodzi"]
    assert titles("Łodzi") == ["Biuro w Łodzi"]
    assert titles("straße") == ["Straße und Hausnummer"]
    # ł and ß are letters of their own, not an l or ss with a mark: no folding, and no error
    assert titles("lodzi") == []


def test_nfd_typed_question_on_the_search_page_finds_the_article(client):
    make_article("Résumé templates", body="Download a template.")
    page = client.get(reverse("knowledge:search"), {"q": "re\u0301sume\u0301"})
    assert page.status_code == 200
    assert "Résumé templates" in page.content.decode()


def test_nfd_written_article_is_found_typed_composed_or_plain():
    # An article imported from somewhere that stores decomposed text.
    article = make_article("Resume", body="Upload it.")
    Article.objects.filter(pk=article.pk).update(title="Re\u0301sume\u0301 upload")
    assert titles("résumé") == ["Re\u0301sume\u0301 upload"]
    assert titles("resume") == ["Re\u0301sume\u0301 upload"]


def test_a_word_whose_folded_form_is_a_stop_word_is_still_found_as_written():
    """ "thé" (tea) folds to "the", an English stop word: typed as the title writes it, it must still find
    the article that holds it (it did before folding)."""
    make_article("Thé vert et noir", body="Nos thés.")
    make_article("Printer jams", body="Paper jams in the tray.")
    assert titles("thé") == ["Thé vert et noir"]


# --- ranking ----------------------------------------------------------------------------------------


def test_accented_title_outranks_body_mentions_when_the_plain_word_is_also_in_its_body():
    """The title is "Café"; the body writes it plainly too. The article titled with the question must
    come first, as it does when nothing has an accent."""
    make_article("Cafe", body="Our cafe opens at eight in the morning.")
    make_article(
        "Opening times of the shop", body="The cafe cafe cafe sells coffee; cafe at noon, cafe at night."
    )
    assert titles("cafe")[0] == "Cafe", "without accents"
    Article.objects.all().delete()
    make_article("Café", body="Our cafe opens at eight in the morning.")
    make_article(
        "Opening times of the shop", body="The café café café sells coffee; café at noon, café at night."
    )
    assert titles("café")[0] == "Café"
    assert titles("cafe")[0] == "Café"


def test_folded_title_word_keeps_its_title_weight_when_the_body_writes_it_plainly():
    titled = make_article("Café", body="Our cafe opens at eight in the morning.")
    assert "A" in weights_of(titled).get("cafe", ""), weights_of(titled)


def test_title_beats_body_through_folding_like_without_accents():
    make_article("Café menu", body="Prices of the dishes.")
    make_article("Dishes", body="The café menu lists the café dishes, café prices and the café hours.")
    assert titles("cafe menu")[0] == "Café menu"
    assert titles("café menu")[0] == "Café menu"


def test_the_whole_phrase_still_ranks_first_with_accents_like_without():
    """Two articles hold the same words once each; only one holds them as the phrase typed. Without
    accents the phrase decides (PHRASE_BONUS); written and typed with accents it must decide alike."""
    make_article("Templates two", body="Use the template now, or resume later.")
    make_article("Templates one", body="Use the resume template now, or later.")
    assert titles("resume template")[0] == "Templates one"
    Article.objects.all().delete()
    make_article("Modèles deux", body="Use the template now, or résumé later.")
    make_article("Modèles un", body="Use the résumé template now, or later.")
    assert titles("résumé template")[0] == "Modèles un", "typed as written"
    assert titles("resume template")[0] == "Modèles un", "typed plainly"


def test_an_accent_elsewhere_in_an_article_does_not_lower_its_rank():
    """Two articles alike but for an accent on a word the question does not hold score alike: folding
    must not make an article with accents rank below its plain twin."""
    accented = make_article("Menu of the day", body="The menu has a naïve soup, crème and a café au lait.")
    plain = make_article("Menu of the day", body="The menu has a naive soup, creme and a cafe au lait.")
    found = hits("menu soup")
    assert [hit.article for hit in found] == [accented, plain], [
        (hit.article.body, hit.rank) for hit in found
    ]
    assert found[0].rank == pytest.approx(found[1].rank)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how do I reset my password when the email never arrives", "Reset your password"),
        ("how can I get a refund for my order", "Ask for a refund"),
        ("printer says paper jam", "Clearing printer jams"),
        ("comment réinitialiser mon mot de passe", "Réinitialiser votre mot de passe"),
        ("reinitialiser mot de passe", "Réinitialiser votre mot de passe"),
    ],
)
def test_natural_questions_rank_the_right_article_first(question, expected):
    make_article("Reset your password", body="If the reset email never arrives, check the spam folder.")
    make_article("Change your email address", body="Open your profile and change the email.")
    make_article("Ask for a refund", body="Write to billing with the order number to get a refund.")
    make_article("Clearing printer jams", body="Open the tray and remove the paper.")
    make_article("Réinitialiser votre mot de passe", body="Ouvrez la page Sécurité.")
    make_article("Mot de passe du Wi-Fi", body="Le mot de passe est au dos du routeur.")
    assert titles(question)[0] == expected


# --- type-ahead and typos ---------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["caf", "Caf", "opening caf", "café op", "cafe ope"])
def test_type_ahead_prefix_with_and_without_accents(typed):
    make_article("Café opening hours", body="We open at eight.")
    make_article("Printer jams", body="Paper jams.")
    assert titles(typed) == ["Café opening hours"]


def test_type_ahead_of_an_accented_prefix_finds_an_accented_word():
    make_article("Réinitialiser le routeur", body="Débranchez-le.")
    make_article("Printer jams", body="Paper jams.")
    assert titles("réini") == ["Réinitialiser le routeur"]
    assert titles("reini") == ["Réinitialiser le routeur"]
    assert titles("débranch") == ["Réinitialiser le routeur"]


def test_type_ahead_fragment_from_the_portal_home(client):
    make_article("Café opening hours", body="We open at eight.")
    home = client.get("/")
    assert home.status_code == 200
    fragment = client.get(
        reverse("knowledge:search"),
        {"q": "caf"},
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/"},
    )
    assert fragment.status_code == 200
    assert "Café opening hours" in fragment.content.decode()
    assert "1 article found." in fragment.content.decode()


@pytest.mark.parametrize("typed", ["reinitialisr mot", "réinitialisr mot", "reinitialiserr"])
def test_typo_correction_with_accents(typed):
    make_article("Réinitialiser votre mot de passe", body="Ouvrez la page Sécurité.")
    make_article("Printer jams", body="Paper jams.")
    assert titles(typed)[0] == "Réinitialiser votre mot de passe"


def test_typo_correction_does_not_reach_words_of_internal_articles_only():
    make_article("Café internal procedures", body="Staff only.", visibility="internal")
    make_article("Printer jams", body="Paper jams.")
    assert titles("caffé") == []
    assert titles("cafee") == []


# --- snippets ---------------------------------------------------------------------------------------


def test_snippet_marks_the_word_typed_with_accents_in_a_long_article():
    """Typed exactly as written, the word is marked even when it comes late in a long article (the
    excerpt's window is placed by where the words start)."""
    filler = " ".join(f"Sentence number {n} talks about something unrelated." for n in range(60))
    make_article("Long guide", body=f"{filler}\n\nFinally, attach your résumé to the application.")
    [hit] = hits("résumé")
    assert f"{MATCH_START}résumé{MATCH_END}" in hit.snippet, hit.snippet


def test_snippet_marks_a_plain_word_found_through_a_question_typed_with_accents():
    make_article("Upload", body="Attach your resume to the application form.")
    [hit] = hits("résumé")
    assert f"{MATCH_START}resume{MATCH_END}" in hit.snippet, hit.snippet


def test_snippet_of_short_article_typed_as_written_is_marked():
    make_article("Café", body="The café opens at eight every morning.")
    [hit] = hits("café")
    assert f"{MATCH_START}café{MATCH_END}" in hit.snippet


def test_search_page_escapes_and_marks(client):
    make_article("Café <b>bold</b>", body="The café & <script>alert(1)</script> bar.")
    page = client.get(reverse("knowledge:search"), {"q": "café"}).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "<mark>café</mark>" in page


# --- visibility -------------------------------------------------------------------------------------


@pytest.fixture
def mixed_visibility():
    make_article("Café public hours", body="Open to all: café at eight.")
    make_article("Café internal keys", body="Secret café alarm code 4242.", visibility="internal")
    make_article("Café draft news", body="Draft café plans.", status="draft")
    make_article("Café archived menu", body="Old café menu.", status="archived")


def test_search_hides_internal_draft_archived_from_customers_and_visitors(client, mixed_visibility):
    customer = make_customer()
    assert titles("cafe", customer) == ["Café public hours"]
    assert titles("cafe") == ["Café public hours"]
    for who in (None, customer):
        if who:
            client.force_login(who)
        page = client.get(reverse("knowledge:search"), {"q": "cafe alarm code"}).content.decode()
        assert "internal" not in page and "4242" not in page and "Draft" not in page


def test_agents_find_internal_but_not_drafts(mixed_visibility):
    agent = make_agent()
    assert set(titles("cafe", agent)) == {"Café public hours", "Café internal keys"}


def test_deflection_suggestions_respect_visibility(client, mixed_visibility):
    url = reverse("knowledge:suggest")
    anonymous = client.get(url, {"subject": "cafe alarm code"}).content.decode()
    assert "Café public hours" in anonymous and "internal" not in anonymous and "Draft" not in anonymous
    client.force_login(make_customer())
    customer = client.get(url, {"subject": "café alarm"}).content.decode()
    assert "Café public hours" in customer and "Café internal keys" not in customer
    assert "archived" not in customer


def test_deflection_suggestions_fold_accents(client):
    make_article("Réinitialiser votre mot de passe", body="Ouvrez la page Sécurité.")
    page = client.get(reverse("knowledge:suggest"), {"subject": "reinitialiser mot de passe"})
    assert page.status_code == 200 and "Réinitialiser votre mot de passe" in page.content.decode()


# --- search-term counts -----------------------------------------------------------------------------


def test_counts_stay_exact_through_the_life_of_accented_articles():
    editor = make_administrator()
    a = make_article("Café opening hours", body="The café opens at eight.", tags="crème")
    b = make_article("Résumé upload", body="Attach your resume.", status="draft")
    c = make_article("Printer", body="Paper jams.")
    assert stored_counts() == exact_counts()
    services.article_update(a, actor=editor, title="Cafe opening hours", body="The cafe opens at nine.")
    assert stored_counts() == exact_counts()
    b = services.article_submit_for_review(b, actor=editor)
    b = services.article_publish(b, actor=editor)
    assert stored_counts() == exact_counts()
    assert SearchTerm.objects.get(lexeme="resum").documents == 1
    a.refresh_from_db()
    services.article_update(a, actor=editor, body="Le café ouvre à huit heures, crème brûlée.")
    assert stored_counts() == exact_counts()
    a.refresh_from_db()
    services.article_archive(a, actor=editor)
    assert stored_counts() == exact_counts()
    Article.objects.filter(pk=c.pk).delete()
    b.refresh_from_db()
    services.article_update(b, actor=editor, title="Resume upload", body="Plain.")
    assert stored_counts() == exact_counts()
    assert SearchTerm.objects.get(lexeme="").documents == 1
    Article.objects.all().delete()
    assert stored_counts() == {}


# --- odd input --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "q",
    [
        "x" * 5000,
        "!!! ??? ... ,,, ;;;",
        "'",
        "-",
        "'-'-'",
        "café\x00au lait",
        "\x00",
        "🙂☕ 🔥",
        "☕ café",
        " ".join(["café"] * 350),
        " ".join(f"wörd{n}" for n in range(320)),
        "\u0301\u0301\u0301",
        "e\u0301" * 400,
        "a:* | b & !c <-> d",
        "résumé:*",
        "'café'",
        "c'est l'été",
        "\ufeffcafé",
        "ǅemal ﬁle Ⅻ",
        "İstanbul \u0131i",  # a dotless i
        "\ud7a3\u1100\u1161",
        "%00%27",
        "café" + "\u0308" * 200,
    ],
)
def test_odd_input_never_fails(client, q):
    make_article("Café opening hours", body="We open at eight.")
    for url, name in ((reverse("knowledge:search"), "q"), (reverse("knowledge:suggest"), "subject")):
        page = client.get(url, {name: q})
        assert page.status_code == 200, (url, q)
        htmx = client.get(url, {name: q}, headers={"HX-Request": "true"})
        assert htmx.status_code == 200


@pytest.mark.parametrize("q", ["café\x00", "x" * 5000, "🙂", " ".join(["mot"] * 400)])
def test_odd_input_to_the_service(q):
    make_article("Café opening hours", body="We open at eight.")
    search_articles(AnonymousUser(), q)


def test_search_page_get_changes_nothing(client):
    article = make_article("Café opening hours", body="We open at eight.")
    before = (article.views, stored_counts())
    client.get(reverse("knowledge:search"), {"q": "café"})
    client.get(reverse("knowledge:suggest"), {"subject": "café hours"})
    article.refresh_from_db()
    assert (article.views, stored_counts()) == before


# --- query budget -----------------------------------------------------------------------------------


def _search_queries(client, q: str) -> int:
    client.get(reverse("knowledge:search"), {"q": q})  # the site configuration, cached
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("knowledge:search"), {"q": q})
    assert response.status_code == 200
    # The rate limiter's counter may be pruned when its window turns: not the page's own work.
    return len([q for q in captured.captured_queries if "ratelimitcounter" not in q["sql"]])


def test_search_page_queries_do_not_grow_with_results(client):
    for n in range(2):
        make_article(f"Café guide {n}", body=f"Le café numéro {n} ouvre tôt.")
    client.get(reverse("knowledge:search"), {"q": "warm up"})
    few = _search_queries(client, "cafe")
    for n in range(2, 25):
        make_article(f"Café guide {n}", body=f"Le café numéro {n} ouvre tôt.")
    many = _search_queries(client, "cafe")
    assert many == few


def test_search_page_queries_do_not_grow_for_a_signed_in_agent(client):
    agent = make_agent()
    client.force_login(agent)
    for n in range(2):
        make_article(f"Café guide {n}", body="Le café.", visibility="internal")
    client.get(reverse("knowledge:search"), {"q": "warm"})
    few = _search_queries(client, "cafe")
    for n in range(2, 25):
        make_article(f"Café guide {n}", body="Le café.", visibility="internal" if n % 2 else "public")
    many = _search_queries(client, "cafe")
    assert many == few


def test_typo_and_type_ahead_queries_do_not_grow(client):
    for n in range(2):
        make_article(f"Réinitialiser guide {n}", body="Sécurité.")
    few = _search_queries(client, "reinitialisr securi")
    for n in range(2, 25):
        make_article(f"Réinitialiser guide {n}", body="Sécurité.")
    many = _search_queries(client, "reinitialisr securi")
    assert many == few


def test_snippet_marks_the_word_of_a_typo_typed_with_accents():
    """ "réinitialisr" (a letter dropped, accents as written) is corrected and the article found; its
    excerpt marks the word it was corrected to, as it did before folding ("réinitialis")."""
    make_article("Router", body="Cliquez sur Réinitialiser pour continuer.")
    [hit] = hits("réinitialisr")
    assert f"{MATCH_START}Réinitialiser{MATCH_END}" in hit.snippet, hit.snippet


def test_imported_accented_articles_are_found_and_counted(tmp_path):
    from django.core.management import call_command

    (tmp_path / "kb.jsonl").write_text(
        '{"slug": "cafe-hours", "title": "Café hours", "body": "The café opens at eight.",'
        ' "status": "published"}\n'
        '{"slug": "resume", "title": "Résumé", "body": "Attach a résumé.", "status": "draft"}\n',
        encoding="utf-8",
    )
    call_command("kb_import", str(tmp_path / "kb.jsonl"), stdout=StringIO())
    assert titles("cafe") == ["Café hours"]
    assert titles("resume") == []
    assert stored_counts() == exact_counts()


# --- the stored vectors ------------------------------------------------------------------------------


def test_the_folded_words_follow_edits_and_leave_articles_without_accents_as_they_were():
    article = make_article("Opening hours of the café", body="The café opens at eight.")
    plain = make_article("Printer jams", body="Paper jams in the tray.")
    article.title, article.body = "Opening hours of the shop", "The shop opens at eight."
    article.excerpt = "When the shop opens."
    article.save()
    assert titles("cafe") == []
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT id FROM knowledge_article WHERE search_vector = (
                   setweight(to_tsvector('english', title), 'A')
                   || setweight(to_tsvector('english', replace(tags, ',', ' ') || ' ' || excerpt), 'B')
                   || setweight(to_tsvector('english', body), 'C'))"""
        )
        assert {pk for (pk,) in cursor.fetchall()} == {article.pk, plain.pk}, "the words as written only"


def test_the_search_page_finds_an_accented_title_typed_plainly(client):
    make_article("Réinitialiser votre mot de passe", body="Ouvrez la page Sécurité.")
    page = client.get(reverse("knowledge:search"), {"q": "reinitialiser"}).content.decode()
    assert "Réinitialiser votre mot de passe" in page
