"""Instructions per request for the bench pages, counted by valgrind's callgrind.

    .venv/bin/python bench/instructions.py --tickets 1000000 [--requests 5] [PAGE ...]

Wall-clock and even CPU time on a shared VM vary by a third from run to run; the number of
instructions this Python process executes for a request repeats to within a fraction of a percent,
so it is what compares two versions of the code (run this script in both checkouts against the same
database). It counts Django's work only: PostgreSQL's shows as run.py's SQL column. Each page runs in
its own process under valgrind (about 25 s each): warm-up requests first, then counting switched on
for --requests requests through callgrind's client requests, from a tiny helper compiled with gcc.

Needs Debian's valgrind (which brings valgrind/callgrind.h) and gcc. Not part of `make test`.
"""

import argparse
import ctypes
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

HELPER = """
#include <valgrind/callgrind.h>
void count_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void count_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
"""
GET_PAGES = ("queue", "workspace", "customer my", "KB")  # the POST page would file a ticket per request


def count_in_this_process(helper: str, database: str, page: int, requests: int) -> None:
    """Child: warm the page up, then let callgrind count `requests` requests."""
    import django

    django.setup()
    import run
    from django.test import Client

    run.use_in_process(database)
    setup = run.prepare()
    title, who, _, path, _ = run.bench_pages(setup)[page]
    client = Client()
    client.force_login(setup[who])
    for _ in range(run.WARM_UP):
        assert client.get(path).status_code == 200, title
    counter = ctypes.CDLL(helper)
    counter.count_start()
    for _ in range(requests):
        client.get(path)
    counter.count_stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--database", help="default: bench_<tickets>")
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("pages", nargs="*", help="page names (or their starts); default: every GET page")
    parser.add_argument("--child", nargs=2, metavar=("HELPER", "PAGE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    database = args.database or f"bench_{args.tickets}"
    if args.child:
        count_in_this_process(args.child[0], database, int(args.child[1]), args.requests)
        return

    import run

    placeholders = {"small": 0, "big": 0, "big_messages": "long", "article": ""}
    names = [entry[0] for entry in run.bench_pages(placeholders)]
    chosen = [(index, name) for index, name in enumerate(names) if name.startswith(GET_PAGES)]
    if args.pages:
        chosen = [(index, name) for index, name in chosen if name.startswith(tuple(args.pages))]
    with tempfile.TemporaryDirectory() as work:
        helper = Path(work) / "count.so"
        (Path(work) / "count.c").write_text(HELPER)
        subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", helper, Path(work) / "count.c"], check=True)
        print(
            f"{database}: instructions per request (Python process), {args.requests} requests after warm-up"
        )
        for index, name in chosen:
            command = [
                "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={work}/out.%p",
                sys.executable, __file__, "--database", database, "--requests", str(args.requests),
                "--child", str(helper), str(index),
            ]  # fmt: skip
            # A fixed hash seed: set and dict orders, and so the work done, repeat from run to run.
            done = subprocess.run(
                command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}
            )
            collected = re.search(r"Collected : (\d+)", done.stderr)
            if done.returncode or not collected:
                sys.exit(f"{name}: failed\n{done.stderr[-2000:]}")
            print(f"  {name:28} {int(collected.group(1)) / args.requests / 1e6:8.1f} M", flush=True)


if __name__ == "__main__":
    main()
