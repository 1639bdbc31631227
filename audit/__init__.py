"""The audit trail. Services call audit.record(...) inside their transaction."""


def record(*args, **kwargs):
    from audit.recorder import record as _record

    return _record(*args, **kwargs)
