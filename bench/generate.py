"""Volume data for benchmarks: a fresh database with N tickets, their threads, and 100,000 KB articles.

    .venv/bin/python bench/generate.py --tickets 1000000 [--database bench_1000000] [--articles 100000]
        [--audit-events 0] [--system-log 0]

Drops and recreates the named database (on the embedded server, or DATABASE_URL's server), migrates
it, then fills it with bulk SQL in batches: 50 organisations, 5,000 customers, 200 agents in 20
teams, N tickets (about 99 % solved, a few thousand open; customers, priorities and channels
skewed) with 1-30 messages each (most 1-3, one in 5,000 a thread of 200+), activities (created, the
status change, and one per message, as the services write them), tags, and KB articles. Text comes
from small English, German, French and Spanish word lists; PostgreSQL computes the search vectors.
Secondary indexes are dropped during the load and rebuilt after it.

With --audit-events, the audit trail gains that many events, hash-chained under the configured key as
audit.record() chains them (so `manage.py audit_verify` passes): 70 % about tickets by their agents,
15 % sign-ins of agents and customers, 10 % about users and 5 % settings changes by an administrator
(bench-admin@bench.example, created here). --system-log adds that many WARNING-or-worse log rows.
"""

import argparse
import contextlib
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

BATCH = 50_000
TEAMS, AGENTS, CUSTOMERS, ORGANIZATIONS = 20, 200, 5_000, 50
BIG_THREAD_EVERY = 5_000  # ticket n with n % 5000 == 0: open, team 0, 200-260 messages
PASSWORD = "bench"
BULK_TABLES = (
    "tickets_ticket",
    "tickets_ticketmessage",
    "tickets_ticketactivity",
    "tickets_ticket_tags",
    "knowledge_article",
)


def words(text: str) -> list[str]:
    return text.split()


WORDS = {
    "en": {
        "subjects": [
            "Printer does not print",
            "VPN keeps disconnecting",
            "Invoice shows the wrong amount",
            "Password reset e-mail never arrives",
            "Laptop will not start",
            "Scanner is offline",
            "Calendar invitations are missing",
            "Cannot log in to the portal",
            "Refund for order",
            "Shared drive is very slow",
            "Two-factor code rejected",
            "Export to CSV fails",
        ],
        "words": words(
            "the a my our your printer invoice password account order laptop screen network "
            "connection server error message page report export refund payment customer team office "
            "update install reset login browser phone mail calendar meeting file folder drive access "
            "license subscription billing delivery shipment label warehouse support manager colleague "
            "yesterday today morning again still never always suddenly slowly quickly please keyboard mouse "
            "monitor docking station headset webcam microphone speaker battery charger cable adapter router "
            "firewall proxy certificate domain mailbox alias signature attachment spreadsheet document "
            "template macro database backup restore sync cloud storage quota permission group role admin "
            "token session cookie cache timeout upload download import dashboard widget chart filter search "
            "notification reminder schedule shift holiday travel expense receipt tax discount coupon cart "
            "checkout address warranty repair replacement serial model firmware driver patch version release "
            "android iphone tablet app desktop tenant workspace channel webhook integration api key "
            "contract quote purchase vendor supplier stock inventory barcode pallet courier tracking"
        ),
        "verbs": words(
            "does not work fails crashes shows freezes stopped returns asks cannot open "
            "keeps loading disappeared broke changed"
        ),
    },
    "de": {
        "subjects": [
            "Drucker druckt nicht",
            "VPN trennt ständig die Verbindung",
            "Rechnung hat falschen Betrag",
            "Passwort zurücksetzen funktioniert nicht",
            "Laptop startet nicht",
            "Kein Zugriff auf Laufwerk",
            "Kalender synchronisiert nicht",
            "Anmeldung im Portal schlägt fehl",
            "Erstattung der Bestellung",
        ],
        "words": words(
            "der die das mein unser Drucker Rechnung Passwort Konto Bestellung Laptop Bildschirm "
            "Netzwerk Verbindung Server Fehlermeldung Seite Bericht Zahlung Kunde Team Büro Aktualisierung "
            "Anmeldung Browser Telefon Kalender Datei Ordner Laufwerk Zugriff Lizenz Lieferung Lager "
            "gestern heute morgen wieder immer noch nie plötzlich langsam bitte dringend"
        ),
        "verbs": words(
            "funktioniert nicht stürzt ab zeigt hängt bleibt lädt verschwunden geändert öffnet nicht meldet"
        ),
    },
    "fr": {
        "subjects": [
            "L'imprimante n'imprime plus",
            "Le VPN se déconnecte",
            "Montant incorrect sur la facture",
            "Réinitialisation du mot de passe impossible",
            "L'ordinateur ne démarre pas",
            "Accès refusé au dossier partagé",
            "Le calendrier ne se synchronise pas",
            "Remboursement commande",
        ],
        "words": words(
            "le la les mon notre imprimante facture mot passe compte commande ordinateur écran "
            "réseau connexion serveur erreur message page rapport paiement client équipe bureau mise jour "
            "navigateur téléphone calendrier fichier dossier accès licence livraison entrepôt hier "
            "aujourd'hui matin encore toujours jamais soudain lentement merci urgent"
        ),
        "verbs": words(
            "ne fonctionne pas plante affiche bloque charge disparu changé refuse s'ouvre demande"
        ),
    },
    "es": {
        "subjects": [
            "La impresora no imprime",
            "La VPN se desconecta",
            "Importe incorrecto en la factura",
            "No llega el correo para restablecer la contraseña",
            "El portátil no arranca",
            "Sin acceso a la carpeta compartida",
            "El calendario no sincroniza",
            "Reembolso del pedido",
        ],
        "words": words(
            "el la los mi nuestro impresora factura contraseña cuenta pedido portátil pantalla "
            "red conexión servidor error mensaje página informe pago cliente equipo oficina actualización "
            "navegador teléfono calendario archivo carpeta acceso licencia envío almacén ayer hoy mañana "
            "otra vez siempre nunca de repente lento gracias urgente"
        ),
        "verbs": words("no funciona falla muestra se bloquea carga desapareció cambió rechaza no abre pide"),
    },
}
LANGUAGE_WEIGHTS = {"en": 70, "de": 12, "fr": 10, "es": 8}
TAGS = words(
    "billing vpn printer password hardware software network email calendar refund urgent vip "
    "onboarding offboarding license security outage bug feature-request how-to mobile access "
    "shipping returns invoice portal sso backup migration"
)


def _sentence(rng: random.Random, language: str) -> str:
    words = WORDS[language]
    length = rng.randint(5, 18)
    chosen = [rng.choice(words["words"]) for _ in range(length)]
    chosen.insert(rng.randint(1, length - 1), rng.choice(words["verbs"]))
    return " ".join(chosen).capitalize() + rng.choice(".....?!")


def text_pool(size: int, seed: int = 7) -> list[tuple[int, str, str, str]]:
    """(id, language, subject, body) rows of varied length: most a few sentences, some long."""
    rng = random.Random(seed)
    languages = list(LANGUAGE_WEIGHTS)
    rows = []
    for number in range(1, size + 1):
        language = rng.choices(languages, weights=list(LANGUAGE_WEIGHTS.values()))[0]
        paragraphs = 1 if rng.random() < 0.6 else rng.randint(2, 6)
        body = "\n\n".join(
            " ".join(_sentence(rng, language) for _ in range(rng.randint(1, 5))) for _ in range(paragraphs)
        )
        rows.append((number, language, rng.choice(WORDS[language]["subjects"]), body))
    return rows


def create_database(name: str) -> None:
    """Point Django at a freshly created, migrated database called `name`."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    with connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    use_database(name)
    call_command("migrate", verbosity=0, interactive=False)
    call_command("loaddata", "roles", verbosity=0)
    assert settings.DATABASES["default"]["NAME"] == name


def use_database(name: str) -> None:
    from django.conf import settings
    from django.db import connections

    for alias in settings.DATABASES:  # the system log's own connection follows the default one
        connections[alias].close()
        settings.DATABASES[alias]["NAME"] = name
        connections[alias].settings_dict["NAME"] = name


def database_exists(name: str) -> bool:
    from django.db import connection

    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


class Progress:
    def __init__(self, total_tickets: int) -> None:
        self.total, self.started, self.rows = total_tickets, time.perf_counter(), {}

    def add(self, table: str, count: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + count

    def show(self, stage: str, done: int | None = None) -> None:
        elapsed = time.perf_counter() - self.started
        rows = sum(self.rows.values())
        bar = ""
        if done is not None:
            filled = int(30 * done / max(self.total, 1))
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {done:,}/{self.total:,} tickets  "
        print(f"\r{stage:12} {bar}{rows:,} rows  {rows / max(elapsed, 0.001):,.0f} rows/s  {elapsed:,.0f} s",
              end="", flush=True)  # fmt: skip

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def people() -> dict:
    """Organisations, customers, teams and agents through the ORM (a few thousand rows)."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from accounts import roles
    from accounts.models import Organization, RoleAssignment, Team, TeamMember, User

    organizations = Organization.objects.bulk_create(
        Organization(name=f"Org {n}", slug=f"org-{n}") for n in range(ORGANIZATIONS)
    )
    password = make_password(PASSWORD)
    customers = User.objects.bulk_create(
        User(
            email=f"customer{n}@bench.example",
            name=f"Customer {n}",
            password=password,
            organization=organizations[n % ORGANIZATIONS],
            is_organization_manager=n % 100 == 0,
        )
        for n in range(1, CUSTOMERS + 1)
    )
    teams = Team.objects.bulk_create(Team(name=f"Team {n}", slug=f"team-{n}") for n in range(TEAMS))
    agents = User.objects.bulk_create(
        User(email=f"agent{n}@bench.example", name=f"Agent {n}", password=password) for n in range(AGENTS)
    )
    TeamMember.objects.bulk_create(
        TeamMember(team=teams[n % TEAMS], user=agent) for n, agent in enumerate(agents)
    )
    agent_role, customer_role = Group.objects.get(name=roles.AGENT), Group.objects.get(name=roles.CUSTOMER)
    RoleAssignment.objects.bulk_create(
        [RoleAssignment(user=agent, role=agent_role) for agent in agents]
        + [RoleAssignment(user=customer, role=customer_role) for customer in customers]
    )  # fmt: skip
    for rows in (customers, agents, teams, organizations):
        ids = [row.pk for row in rows]
        assert ids == list(range(ids[0], ids[0] + len(ids))), "ids must be contiguous"
    return {
        "customer0": customers[0].pk,
        "organization0": organizations[0].pk,
        "team0": teams[0].pk,
        "agent0": agents[0].pk,
    }


# One batch of tickets numbered lo..hi. r1..r5 are per-ticket random numbers; a ticket's status
# decides its dates, assignee and activities, so they are drawn once in the sub-select.
TICKETS = """
INSERT INTO tickets_ticket (
    number, subject, description, requester_id, organization_id, team_id, assignee_id, priority, status,
    channel, custom_fields, escalation_level, is_deleted, created_at, updated_at, public_updated_at,
    first_response_at, resolved_at, closed_at, version)
SELECT n, p.subject, p.body, %(customer0)s + c.k, %(organization0)s + (c.k + 1) %% {organizations},
       %(team0)s + n %% {teams},
       CASE WHEN s.status IN ('new', 'open') AND r3 < 0.3 THEN NULL
            ELSE %(agent0)s + n %% {teams} + {teams} * floor(r3 * {agents_per_team})::int END,
       CASE WHEN r4 < 0.30 THEN 'low' WHEN r4 < 0.75 THEN 'medium' WHEN r4 < 0.95 THEN 'high'
            ELSE 'urgent' END,
       s.status,
       CASE WHEN r5 < 0.6 THEN 'web' WHEN r5 < 0.9 THEN 'email' WHEN r5 < 0.95 THEN 'api' ELSE 'phone' END,
       '{{}}', CASE WHEN r4 > 0.99 THEN 1 ELSE 0 END, false, d.created, d.updated, d.updated,
       CASE WHEN s.status <> 'new' THEN d.created + interval '2 hours' END,
       CASE WHEN s.status IN ('resolved', 'closed') THEN d.updated END,
       CASE WHEN s.status = 'closed' THEN d.updated END, 1
FROM (SELECT n, random() r1, random() r2, random() r3, random() r4, random() r5
      FROM generate_series(%(lo)s::bigint, %(hi)s) n) g
CROSS JOIN LATERAL (SELECT floor(power(r1, 1.5) * {customers})::int AS k) c
CROSS JOIN LATERAL (SELECT CASE WHEN n %% {big} = 0 THEN 'open'
                                WHEN r2 < 0.002 THEN 'new' WHEN r2 < 0.005 THEN 'open'
                                WHEN r2 < 0.007 THEN 'pending' WHEN r2 < 0.008 THEN 'on_hold'
                                WHEN r2 < 0.02 THEN 'resolved' ELSE 'closed' END AS status) s
CROSS JOIN LATERAL (
    SELECT created, CASE WHEN s.status IN ('new', 'open', 'pending', 'on_hold')
                         THEN created + (r5 * (now() - created)) ELSE created + r3 * interval '9 days' END
                    AS updated
    FROM (SELECT CASE WHEN s.status IN ('new', 'open', 'pending', 'on_hold')
                      THEN now() - r4 * interval '30 days'
                      ELSE now() - interval '10 days' - (1 - n::float / %(total)s) * interval '3 years' END
                 AS created) x) d
JOIN bench_text p ON p.id = 1 + (n * 7919) %% %(pool)s
"""

# A ticket's thread: count from a hash of its number (1-30, most 1-3; one in 5,000 gets 200-260).
MESSAGES = """
INSERT INTO tickets_ticketmessage (uid, ticket_id, author_id, is_internal, from_staff, body, body_html,
                                   created_at)
SELECT gen_random_uuid(), t.id,
       CASE WHEN staff THEN coalesce(t.assignee_id, %(agent0)s) ELSE t.requester_id END,
       staff AND k %% 7 = 0, staff, p.body, '<p>' || replace(p.body, E'\\n\\n', '</p><p>') || '</p>',
       t.created_at + k * (t.updated_at - t.created_at) / (m.count + 1)
FROM tickets_ticket t
CROSS JOIN LATERAL (SELECT CASE WHEN t.number %% {big} = 0 THEN 200 + t.number %% 61
                                ELSE 1 + floor(29 * power(abs(hashint8(t.number)::bigint) / 2147483649.0,
                                                          12))::int
                           END AS count) m
CROSS JOIN LATERAL generate_series(1, m.count) k
CROSS JOIN LATERAL (SELECT k %% 2 = 0 AS staff) a
JOIN bench_text p ON p.id = 1 + (t.number * 31 + k * 7) %% %(pool)s
WHERE t.number BETWEEN %(lo)s AND %(hi)s
"""

ACTIVITIES = """
INSERT INTO tickets_ticketactivity (ticket_id, actor_id, action, field, old_value, new_value, created_at)
SELECT t.id, t.requester_id, 'created', '', NULL::jsonb, NULL::jsonb, t.created_at
FROM tickets_ticket t WHERE t.number BETWEEN %(lo)s AND %(hi)s
UNION ALL
SELECT t.id, t.assignee_id, 'status', 'status', '"open"'::jsonb, to_jsonb(t.status), t.updated_at
FROM tickets_ticket t WHERE t.number BETWEEN %(lo)s AND %(hi)s AND t.status <> 'new'
UNION ALL
SELECT m.ticket_id, m.author_id, CASE WHEN m.is_internal THEN 'note' ELSE 'reply' END, '', NULL::jsonb,
       to_jsonb(m.uid::text), m.created_at
FROM tickets_ticketmessage m JOIN tickets_ticket t ON t.id = m.ticket_id
WHERE t.number BETWEEN %(lo)s AND %(hi)s
"""

TICKET_TAGS = """
INSERT INTO tickets_ticket_tags (ticket_id, tag_id)
SELECT DISTINCT t.id, %(tag0)s + (abs(hashint8(t.number * 13 + k)::bigint) %% %(tags)s)
FROM tickets_ticket t CROSS JOIN generate_series(1, 1 + (t.number %% 10 = 0)::int) k
WHERE t.number BETWEEN %(lo)s AND %(hi)s AND t.number %% 5 < 2
"""

ARTICLES = """
INSERT INTO knowledge_article (title, slug, body, body_html, excerpt, category_id, tags, status, visibility,
    published_at, views, helpful_count, not_helpful_count, deflections, use_count, search_config, created_at,
    updated_at)
SELECT p.subject || ' (' || n || ')', 'bench-article-' || n, b.body, '<p>' || b.body || '</p>',
       left(p.body, 200), %(category0)s + n %% 10,
       (%(tag_names)s::text[])[1 + n %% 29] || ',' || (%(tag_names)s::text[])[1 + n %% 7],
       CASE WHEN n %% 10 = 0 THEN 'draft' ELSE 'published' END,
       CASE WHEN n %% 5 = 0 THEN 'internal' ELSE 'public' END,
       now() - n * interval '5 minutes', n %% 1000, n %% 17, n %% 5, 0, 0, 'english',
       now() - n * interval '5 minutes', now() - n * interval '5 minutes'
FROM generate_series(%(lo)s::bigint, %(hi)s) n
JOIN bench_text p ON p.id = 1 + (n * 104729) %% %(pool)s
CROSS JOIN LATERAL (SELECT string_agg(q.body, E'\\n\\n') AS body FROM bench_text q
                    WHERE q.id IN (1 + (n * 31) %% %(pool)s, 1 + (n * 37) %% %(pool)s)) b
"""


# The audit trail's events before hashing, oldest first: sequence and time rise together over three
# years; r picks the kind (70 % ticket, 15 % sign-in, 10 % user, 5 % settings), k the ticket or person.
AUDIT_EVENTS = """
CREATE TEMPORARY TABLE bench_audit AS
SELECT s AS sequence, now() - interval '3 years' + (s::float / %(events)s) * interval '3 years' AS created_at,
       r, abs(hashint8(s * 7919)::bigint) AS k
FROM (SELECT s, random() AS r FROM generate_series(%(first)s::bigint, %(last)s) s) g
"""

AUDIT_ROWS = """
SELECT e.sequence, e.created_at,
       CASE WHEN e.r < 0.70
            THEN 'ticket.' || (ARRAY['status', 'assign', 'reply', 'note', 'priority'])[1 + e.k %% 5]
            WHEN e.r < 0.85 THEN 'login' WHEN e.r < 0.92 THEN 'update' WHEN e.r < 0.95 THEN 'role_change'
            ELSE 'settings_change' END,
       CASE WHEN e.r >= 0.70 AND e.r < 0.85 OR e.r >= 0.92 THEN 'security' ELSE 'business' END,
       CASE WHEN e.r < 0.70 THEN t.assignee_id WHEN e.r < 0.85 THEN u.id ELSE %(admin)s END,
       CASE WHEN e.r < 0.70 THEN t.id::text WHEN e.r < 0.95 THEN u.id::text ELSE %(configuration)s::text END,
       CASE WHEN e.r < 0.70 THEN 'T-' || t.number || ' ' || t.subject WHEN e.r < 0.95 THEN u.email
            ELSE 'Site configuration' END,
       CASE WHEN e.r < 0.70 THEN t.status WHEN e.r < 0.85 THEN '' ELSE 'x' END,
       '10.' || e.k %% 256 || '.' || e.k / 256 %% 256 || '.' || e.k / 65536 %% 256 AS ip
FROM bench_audit e
LEFT JOIN tickets_ticket t ON e.r < 0.70 AND t.number = 1 + e.k %% %(tickets)s
LEFT JOIN accounts_user u ON e.r >= 0.70 AND e.r < 0.95
                             AND u.id = %(person0)s + e.k %% %(people)s
WHERE e.sequence > %(after)s ORDER BY e.sequence LIMIT %(batch)s
"""

SYSTEM_LOG = """
INSERT INTO audit_systemlogentry (created_at, level, logger, message, module, function, line, traceback,
                                  request_id)
SELECT now() - (1 - n::float / %(count)s) * interval '90 days',
       CASE WHEN n %% 50 = 0 THEN 50 WHEN n %% 5 = 0 THEN 40 ELSE 30 END,
       (ARRAY['django.request', 'django.security.csrf', 'helpdesk.tasks', 'tickets.services',
              'axes.watch_login'])[1 + n %% 5],
       (ARRAY['Not Found: /portal/tickets/' || n || '/', 'Forbidden (CSRF token missing.): /login/',
              'Task send_submission_receipt failed, retrying in 10 minutes',
              'Refused a stale edit of T-' || n,
              'Repeated login failures from 10.0.0.' || n %% 256])[1 + n %% 5],
       'bench', 'generate', n %% 500,
       CASE WHEN n %% 5 = 1 THEN 'Traceback (most recent call last): ...' ELSE '' END,
       md5(n::text)
FROM generate_series(1, %(count)s) n
"""


def audit_trail(events: int, tickets: int, progress: "Progress") -> None:
    """Append `events` hash-chained audit events (see the module's docstring), COPYed in batches."""
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from accounts import roles
    from accounts.models import RoleAssignment, User
    from audit.models import AuditEvent
    from audit.recorder import GENESIS, event_digest, lock_chain
    from helpdesk.models import SiteConfiguration
    from tickets.models import Ticket

    admin = User.objects.with_email("bench-admin@bench.example").first() or User.objects.create_superuser(
        email="bench-admin@bench.example", password=None, name="Bench admin"
    )
    RoleAssignment.objects.get_or_create(user=admin, role=Group.objects.get(name=roles.ADMINISTRATOR))
    types = {
        model: ContentType.objects.get_for_model(model).pk for model in (Ticket, User, SiteConfiguration)
    }
    people = User.objects.filter(email__endswith="@bench.example").exclude(pk=admin.pk).order_by("pk")
    person0, person_last = people.first().pk, people.last().pk
    columns = ("sequence", "created_at", "action", "category", "actor_id", "actor_repr", "object_type_id",
               "object_id", "object_repr", "changes", "ip", "user_agent", "request_id", "previous_hash",
               "hash", "hash_scheme")  # fmt: skip
    names = dict(User.objects.values_list("pk", "email"))
    configuration = SiteConfiguration.objects.get_current().pk
    with transaction.atomic(), connection.cursor() as cursor:
        lock_chain()
        last = AuditEvent.objects.order_by("-sequence").values("sequence", "hash").first()
        first = (last["sequence"] + 1) if last else 1
        previous = last["hash"] if last else GENESIS
        cursor.execute(AUDIT_EVENTS, {"events": events, "first": first, "last": first + events - 1})
        cursor.execute("CREATE INDEX ON bench_audit (sequence)")
        after = first - 1
        while True:
            cursor.execute(
                AUDIT_ROWS,
                {"after": after, "batch": BATCH, "admin": admin.pk, "configuration": configuration,
                 "tickets": tickets, "person0": person0, "people": person_last - person0 + 1},
            )  # fmt: skip
            rows = cursor.fetchall()
            if not rows:
                break
            batch = []
            for sequence, created_at, action, category, actor_id, object_id, object_repr, state, ip in rows:
                kind = action.split(".")[0]
                object_type = {"ticket": types[Ticket], "settings_change": types[SiteConfiguration]}.get(
                    kind, types[User]
                )
                changes = (
                    {}
                    if action == "login"
                    else {"status": ["open", state]}
                    if kind == "ticket"
                    else {"name": ["Before", "After"]}
                )
                event = AuditEvent(
                    sequence=sequence, created_at=created_at, action=action, category=category,
                    actor_id=actor_id, actor_repr=names.get(actor_id, "System"), object_type_id=object_type,
                    object_id=object_id or "", object_repr=(object_repr or "")[:300], changes=changes, ip=ip,
                    user_agent="Mozilla/5.0 (bench)", request_id=f"bench-{sequence}", previous_hash=previous,
                    hash_scheme=AuditEvent.HashScheme.HMAC_SHA256,
                )  # fmt: skip
                event.hash = previous = event_digest(event)
                batch.append(event)
            with cursor.cursor.copy(f"COPY audit_auditevent ({', '.join(columns)}) FROM STDIN") as copy:
                for event in batch:
                    row = [getattr(event, name) for name in columns]
                    row[columns.index("changes")] = json.dumps(event.changes)
                    copy.write_row(row)
            after = batch[-1].sequence
            progress.add("audit_auditevent", len(batch))
            progress.show("audit")


def secondary_indexes(cursor) -> list[tuple[str, str]]:
    """(name, definition) of the bulk tables' indexes that back no constraint."""
    cursor.execute(
        """SELECT indexname, indexdef FROM pg_indexes
           WHERE schemaname = current_schema() AND tablename = ANY(%s)
             AND indexname NOT IN (SELECT conname FROM pg_constraint)""",
        [list(BULK_TABLES)],
    )
    return cursor.fetchall()


def generate(
    tickets: int,
    database: str,
    articles: int = 100_000,
    pool: int = 20_000,
    audit_events: int = 0,
    system_log: int = 0,
) -> dict:
    """Create and fill `database`; returns the load statistics."""
    from django.db import DatabaseError, connection

    from knowledge.models import Category
    from tickets.models import Tag

    progress = Progress(tickets)
    progress.show("schema")
    create_database(database)
    ids = people()
    tags = Tag.objects.bulk_create(Tag(name=name) for name in TAGS)
    categories = Category.objects.bulk_create(
        Category(name=f"Category {n}", slug=f"category-{n}", position=n) for n in range(10)
    )
    params = {
        **ids,
        "total": tickets,
        "pool": pool,
        "tag0": tags[0].pk,
        "tags": len(tags),
        "category0": categories[0].pk,
        "tag_names": list(TAGS),
    }
    fmt = {
        "teams": TEAMS,
        "organizations": ORGANIZATIONS,
        "customers": CUSTOMERS,
        "agents_per_team": AGENTS // TEAMS,
        "big": BIG_THREAD_EVERY,
    }
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_text (id int PRIMARY KEY, language text, subject text, body text)"
        )
        with cursor.cursor.copy("COPY bench_text (id, language, subject, body) FROM STDIN") as copy:
            for row in text_pool(pool):
                copy.write_row(row)
        dropped = secondary_indexes(cursor)
        for name, _ in dropped:
            cursor.execute(f'DROP INDEX "{name}"')
        # Skips foreign-key triggers during the load; needs a superuser, as the embedded server has.
        with contextlib.suppress(DatabaseError):
            cursor.execute("SET session_replication_role = replica")
        for lo in range(1, tickets + 1, BATCH):
            batch = {**params, "lo": lo, "hi": min(lo + BATCH - 1, tickets)}
            for table, statement in (
                ("tickets_ticket", TICKETS.format(**fmt)),
                ("tickets_ticketmessage", MESSAGES.format(**fmt)),
                ("tickets_ticketactivity", ACTIVITIES),
                ("tickets_ticket_tags", TICKET_TAGS),
            ):
                cursor.execute(statement, batch)
                progress.add(table, cursor.rowcount)
                progress.show("tickets", batch["hi"])
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute(
            "SELECT setval('tickets_ticket_number_seq', (SELECT max(number) + 1 FROM tickets_ticket))"
        )
        for lo in range(1, articles + 1, 10_000):
            cursor.execute(ARTICLES, {**params, "lo": lo, "hi": min(lo + 9_999, articles)})
            progress.add("knowledge_article", cursor.rowcount)
            progress.show("articles")
        for number, (_, definition) in enumerate(dropped, 1):
            progress.show(f"index {number}/{len(dropped)}")
            cursor.execute(definition)
        progress.show("analyze")
        cursor.execute("VACUUM ANALYZE")
    from django.core.management import call_command

    stackfaq = ROOT.parent / "shared" / "data" / "stackfaq" / "articles.jsonl"
    if stackfaq.exists():  # real articles, so the benchmark's KB questions have answers to find
        call_command("kb_import", str(stackfaq), verbosity=0)
    if audit_events:
        audit_trail(audit_events, tickets, progress)
    if system_log:
        with connection.cursor() as cursor:
            cursor.execute(SYSTEM_LOG, {"count": system_log})
            progress.add("audit_systemlogentry", cursor.rowcount)
    if audit_events or system_log:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE audit_auditevent; ANALYZE audit_systemlogentry")
    elapsed = progress.elapsed()
    rows = sum(progress.rows.values())
    print(f"\rloaded {progress.rows} in {elapsed:,.0f} s: {rows:,} rows, {rows / elapsed:,.0f} rows/s"
          + " " * 20)  # fmt: skip
    return {"seconds": round(elapsed, 1), "rows": progress.rows, "rows_per_second": round(rows / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--database", help="default: bench_<tickets>")
    parser.add_argument("--audit-events", type=int, default=0, help="hash-chained audit events to add")
    parser.add_argument("--system-log", type=int, default=0, help="system-log rows to add")
    args = parser.parse_args()

    import django

    django.setup()
    generate(
        args.tickets,
        args.database or f"bench_{args.tickets}",
        articles=args.articles,
        audit_events=args.audit_events,
        system_log=args.system_log,
    )


if __name__ == "__main__":
    main()
