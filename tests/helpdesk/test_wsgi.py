"""The WSGI entry point: a working application, with start-up objects frozen out of the collector."""

import gc
import importlib


def test_the_entry_point_loads_the_application_and_freezes_what_start_up_made():
    gc.unfreeze()
    try:
        wsgi = importlib.reload(importlib.import_module("helpdesk.wsgi"))
        assert callable(wsgi.application)
        assert gc.get_freeze_count() > 10_000  # modules, settings, the URL conf's imports, …
    finally:
        gc.unfreeze()  # the rest of the test run collects as usual
