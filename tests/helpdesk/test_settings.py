"""Configuration: every environment variable the settings read is documented in .env.example."""

import os
import re
import subprocess
import sys

from django.conf import settings


def test_every_environment_variable_is_documented_in_env_example():
    source = (settings.BASE_DIR / "helpdesk" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', source))
    example = (settings.BASE_DIR / ".env.example").read_text()
    documented = set(re.findall(r"^(?:# )?([A-Z_]+)=", example, re.M))
    assert read, "the pattern found no variables: the test would pass vacuously"
    assert read - documented == set()


def test_env_example_copied_to_dot_env_keeps_every_default():
    """Copied to .env as it is, an empty SECRET_KEY= would replace the development key (the site
    would not start) and MEDIA_ROOT= put uploads in the working folder: such lines stay commented."""
    text = (settings.BASE_DIR / ".env.example").read_text()
    assert re.findall(r"^[A-Z_]+=$", text, re.M) == []
    assert re.search(r"^# SECRET_KEY=$", text, re.M)


def settings_value(name: str, **environment: str) -> str:
    """Import the settings in a fresh interpreter with only `environment` set, and print one value."""
    env = {"PATH": os.environ["PATH"], **environment}
    code = f"import helpdesk.settings as s; print(s.{name})"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_debug_is_off_unless_set(tmp_path):
    if not (settings.BASE_DIR / ".env").exists():  # a developer's own .env may switch DEBUG on
        assert settings_value("DEBUG", HOME=str(tmp_path)) == "False"
    assert settings_value("DEBUG", DEBUG="1") == "True"
    assert settings_value("DEBUG", DEBUG="0") == "False"
