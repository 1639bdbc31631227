"""WSGI entry point (gunicorn helpdesk.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
application = get_wsgi_application()


def freeze_startup_objects() -> None:
    """Move what start-up loaded (modules, settings, WhiteNoise's index of the static files) out of
    the garbage collector's sight: it lives as long as the process, and every full collection walked
    all of it again. A page that allocates much, like the queue, triggers those collections: this
    saves it about a tenth of its instructions (bench/README.md)."""
    gc.collect()
    gc.freeze()


freeze_startup_objects()
