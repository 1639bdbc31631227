# ruff: noqa: RUF001 (letters of other scripts are what is tested)
"""The desk's search box: terms each found in the subject or naming the requester ("carla printer",
"carla OR dora", "-carla"), the words inside a host or file name ("outlook" in "Outlook.com"), other
scripts, an address typed with an internationalised domain, a pasted mail subject's reference, and OR,
-word and start* together, as the README documents them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from tests.conftest import made_once_per_module
from tests.factories import TeamFactory, make_agent, make_customer, make_ticket
from tickets.filters import SEARCH_CUT, raw_query, search_terms

pytestmark = pytest.mark.django_db

QUEUE = reverse("tickets:desk_queue")


def make_desk():
    support, billing = TeamFactory(name="Support"), TeamFactory(name="Billing")
    carla = make_customer(name="Carla Customer", email="carla@acme.example")
    dora = make_customer(name="Dora Denton", email="dora@acme.example")
    for requester, team, subject in [
        (carla, support, "Printer on fire"),
        (carla, support, "Password reset"),
        (dora, support, "Printer jammed"),
        (dora, support, "VPN keeps dropping"),
        (carla, billing, "Printer invoice"),  # another team's: never found by a Support agent
    ]:
        make_ticket(requester, team=team, subject=subject)
    return {"agent": make_agent(support), "support": support, "carla": carla, "dora": dora}


_desk_rows, desk = made_once_per_module(make_desk, "desk")


def found(client, typed: str) -> set[str]:
    response = client.get(QUEUE, {"q": typed})
    assert response.status_code == 200
    queue = response.context["queue"]
    assert queue.page.paginator.count == len(queue.tickets)
    return {ticket.subject for ticket in queue.tickets}


@pytest.mark.parametrize(
    ("typed", "subjects"),
    [
        ("carla printer", {"Printer on fire"}),
        ("printer carla", {"Printer on fire"}),
        ("Carla Customer printer", {"Printer on fire"}),
        ("carla@acme.example printer", {"Printer on fire"}),
        ("dora printer", {"Printer jammed"}),
        ("carla print*", {"Printer on fire"}),
        ("printer fire", {"Printer on fire"}),
        ("carla vpn", set()),  # Dora's VPN ticket: every word must find the ticket
        ("carla customer", {"Printer on fire", "Password reset"}),
    ],
)
def test_plain_words_are_each_found_in_the_subject_or_the_requester(client, desk, typed, subjects):
    client.force_login(desk["agent"])
    assert found(client, typed) == subjects


def test_words_in_the_subject_and_the_requester_cost_no_more_queries_than_one_word(client, desk):
    client.force_login(desk["agent"])
    counts = []
    for typed in ["printer", "carla printer", "carla customer print* fire"]:
        found(client, typed)  # its count cached, as for any search asked again
        with CaptureQueriesContext(connection) as queries:
            found(client, typed)
        counts.append(len(queries))
    assert counts[0] == counts[1] == counts[2], counts


# The words in host, file and version names.
WORDS_IN_NAMES = [
    ("Outlook.com keeps asking for my password", "outlook"),
    ("Outlook.com keeps asking for my password", "outlook.com"),
    ("Outlook.com keeps asking for my password", "Outlook.com keeps"),
    ("Cannot open invoice_2024.pdf", "invoice"),
    ("Cannot open invoice_2024.pdf", "invoice_2024.pdf"),
    ("Cannot open invoice_2024.pdf", "2024.pdf"),
    ("portal.acme.example is down", "portal"),
    ("portal.acme.example is down", "acme.example"),
    ("E-mail bounces from anna@bücher.example", "mail bounces"),
    ("E-mail bounces from anna@bücher.example", "e-mail"),
    ("E-mail bounces from anna@bücher.example", "bucher"),
    ("Version 10.5.1 crashes", "10.5.1"),
]


def test_an_address_typed_with_an_internationalised_domain_finds_its_requester(client, desk):
    anna = make_customer(name="Anna Schmidt", email=User.objects.normalize_email("anna@bücher.example"))
    assert anna.email == "anna@xn--bcher-kva.example"
    make_ticket(anna, team=desk["support"], subject="Lieferung fehlt")
    client.force_login(desk["agent"])
    assert found(client, "anna@xn--bcher-kva.example") == {"Lieferung fehlt"}
    assert found(client, "anna@bücher.example") == {"Lieferung fehlt"}
    assert found(client, "ANNA@BÜCHER.EXAMPLE") == {"Lieferung fehlt"}


# OR, left-out words, phrases and starts of words combine.
SYNTAX = [
    ("dropping OR fire", {"VPN keeps dropping", "Printer on fire"}),
    ("dropping OR print*", {"VPN keeps dropping", "Printer on fire", "Printer jammed"}),
    ("print* OR vpn", {"VPN keeps dropping", "Printer on fire", "Printer jammed"}),
    ("-printer", {"VPN keeps dropping", "Password reset"}),
    ("-print*", {"VPN keeps dropping", "Password reset"}),
    ("print* -fire", {"Printer jammed"}),
    ('"on fire"', {"Printer on fire"}),
    ('"fire on"', set()),
    ('-"on fire" printer', {"Printer jammed"}),
    ("printer jammed OR fire", {"Printer jammed", "Printer on fire"}),  # OR binds tighter, as in Gmail
    ("fire OR jammed -printer", set()),
    ("reset OR dropping OR fire", {"Password reset", "VPN keeps dropping", "Printer on fire"}),
    ("dropping or fire", set()),  # "or" in small letters is a word, as pasted from a sentence
    ("OR", set()),
    ("printer OR", {"Printer on fire", "Printer jammed"}),
]


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("a b OR c", "'a' & ('b' | 'c')"),
        ("a OR b -c OR d", "('a' | 'b') & (!'c' | 'd')"),
        ('-"on fire" print*', "!('on' <-> 'fire') & 'print':*"),
        ("outlook.com", "('outlook' <-> 'com')"),
        ("Café's", "('cafe' <-> 's')"),
        ("!!! ... -", None),
        ("it's' OR 'x", "(('it' <-> 's') | 'x')"),
        ("ΕΚΤΥΠΩΤΗΣ εκτυπωτης", "'εκτυπωτησ' & 'εκτυπωτησ'"),
    ],
)
def test_what_is_typed_becomes_a_query_of_letters_and_digits_only(typed, query):
    assert raw_query(search_terms(typed)) == query


# Requesters are named by any term, ORed, left out or quoted.
REQUESTER_TERMS = [
    ("carla OR dora", {"Printer on fire", "Password reset", "Printer jammed", "VPN keeps dropping"}),
    ("carla -printer", {"Password reset"}),
    ("printer -carla", {"Printer jammed"}),
    ("-carla", {"Printer jammed", "VPN keeps dropping"}),
    ('"Carla Customer" printer', {"Printer on fire"}),
    ("carla's printer", {"Printer on fire"}),
    ("dora OR fire", {"Printer jammed", "VPN keeps dropping", "Printer on fire"}),
]


@pytest.mark.parametrize(
    ("name", "typed"),
    [
        ("J.R. Smith", "J.R. Smith"),
        ("J.R. Smith", "smith"),
        ("anna.schmidt", "schmidt"),
        ("Müller/Schmidt GmbH", "schmidt gmbh"),
        ("ΝΙΚΟΣ ΠΑΠΑΔΟΠΟΥΛΟΣ", "Νίκος"),
        ("राहुल शर्मा", "शर्मा"),
        ("田中太郎", "田中"),
        ("田中太郎", "太郎"),
        ("田中 太郎", "田中太"),
        ("葛\U000e0100飾 花子", "葛\U000e0100飾"),  # a kanji with its variation selector, as pasted
        ("김민준", "민준"),
    ],
)
def test_a_requester_is_found_by_the_words_of_a_name_with_punctuation_or_in_other_scripts(
    client, desk, name, typed
):
    requester = make_customer(name=name)
    make_ticket(requester, team=desk["support"], subject="Lieferung fehlt")
    client.force_login(desk["agent"])
    assert found(client, typed) == {"Lieferung fehlt"}


# Subject words in other scripts, found as typed.
WORDS_IN_OTHER_SCRIPTS = [
    ("प्रिंटर काम नहीं कर रहा", "प्रिंटर"),
    ("เครื่องพิมพ์ เสีย", "เครื่องพิมพ์"),
    ("الطابعة مُعطّلة", "مُعطّلة"),
    ("ΠΡΟΒΛΗΜΑ ΕΚΤΥΠΩΤΗΣ", "εκτυπωτης"),
    ("ΠΡΟΒΛΗΜΑ ΕΚΤΥΠΩΤΗΣ", "ΕΚΤΥΠΩΤΗΣ"),
    ("Проблема с принтером", "принтером"),
    ("Printer on fire", "ｐｒｉｎｔｅｒ ＦＩＲＥ"),  # full-width, as an East Asian input method types
    ("Oﬃce printer", "office"),
    ("Drucker im 2. Stock", "２．stock"),
    # Chinese, Japanese and Korean write words without spaces (or glue particles to them): a word typed
    # is found anywhere in a run, and a run that is not in the subject finds nothing.
    ("打印机无法连接到网络", "打印机"),
    ("打印机无法连接到网络", "网络"),
    ("打印机无法连接到网络", "打印*"),
    ("请求退款：订单未收到", "退款"),
    ("プリンターが動かない", "プリンター"),
    ("ﾌﾟﾘﾝﾀｰが動かない", "プリンター"),  # half-width katakana, as some input methods type
    ("프린터가 작동하지 않습니다", "프린터"),
    ("Outlook的邮件问题", "outlook 邮件"),
    ("葛\U000e0100飾区の住所変更", "葛\U000e0100飾区"),  # a kanji with its variation selector
    ("ｱﾞｲの件", "ア\u3099イ"),  # a voiced-sound mark the font draws on its kana
]


def test_a_pasted_mail_subject_finds_the_ticket_its_reference_names(client, desk):
    client.force_login(desk["agent"])
    jammed = found(client, "printer jammed")
    assert jammed == {"Printer jammed"}
    ticket = desk["support"].tickets.get(subject="Printer jammed")
    assert found(client, f"Re: [T-{ticket.number}] Printer jammed") == {"Printer jammed"}
    assert found(client, f"AW: [t-{ticket.number}] something else entirely") == {"Printer jammed"}


@pytest.mark.parametrize(("subject", "typed"), WORDS_IN_NAMES + WORDS_IN_OTHER_SCRIPTS)
def test_a_subject_word_is_found_as_typed(client, desk, subject, typed):
    make_ticket(desk["dora"], team=desk["support"], subject=subject)
    client.force_login(desk["agent"])
    assert found(client, typed) == {subject}


@pytest.mark.parametrize("typed", ["网打", "连网", "退款 打印机", "프린터 가고", "中田"])
def test_characters_of_a_cjk_subject_not_in_its_order_find_nothing(client, desk, typed):
    """Each character is a word, but a word typed is the phrase of its characters, in their order."""
    make_ticket(desk["dora"], team=desk["support"], subject="打印机无法连接到网络")
    make_ticket(desk["dora"], team=desk["support"], subject="프린터가 작동하지 않습니다")
    make_ticket(make_customer(name="田中太郎"), team=desk["support"], subject="Lieferung fehlt")
    client.force_login(desk["agent"])
    assert found(client, typed) == set()


@pytest.mark.parametrize(("typed", "subjects"), SYNTAX + REQUESTER_TERMS)
def test_what_is_typed_finds_the_tickets_it_names(client, desk, typed, subjects):
    client.force_login(desk["agent"])
    assert found(client, typed) == subjects


@pytest.mark.parametrize(
    ("typed", "cut"),
    [
        ("printer " * 16 + "-fire", True),  # the 17th term, an exclusion, is not applied
        ('"' + "one two three four five six seven eight nine" + '" printer', True),
        ("printer " + "x" * 200, True),
        ("printer " * 16, False),
        ('"printer on fire" -vpn carla', False),
    ],
)
def test_a_search_read_only_in_part_says_so(client, desk, typed, cut):
    """Past 16 terms (or 8 words of a phrase, or 200 characters) the rest of a search was left out unsaid:
    "-fire" as the 17th term still listed "Printer on fire". The page says what was searched for."""
    client.force_login(desk["agent"])
    response = client.get(QUEUE, {"q": typed})
    assert response.status_code == 200
    assert (SEARCH_CUT in response.context["queue"].filterset.problems) is cut
    assert (SEARCH_CUT in response.content.decode()) is cut
