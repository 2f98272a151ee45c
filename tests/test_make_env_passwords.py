"""The passwords ``deploy/make_env.py`` generates are ones the NATS server accepts: ``deploy/nats.conf`` takes
them from the environment, and NATS reads such a value as configuration (one like ``95-x8...`` is taken for
a date and the server refuses to start)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path
from types import ModuleType

from librarrarian_embedded.nats_server import binary

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
CONFIG = DEPLOY / "nats.conf"
VARIABLES = sorted(set(re.findall(r"\$(NATS_[A-Z]+_PASSWORD)", CONFIG.read_text())))


def make_env() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_env", DEPLOY / "make_env.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config_problem(passwords: list[str]) -> str | None:
    """What ``nats-server -t`` says of deploy/nats.conf with these passwords (None: it is valid)."""
    env = {**os.environ, **dict(zip(VARIABLES, passwords, strict=True))}
    done = subprocess.run([binary(), "-t", "-c", str(CONFIG)], env=env, capture_output=True, text=True)
    return None if done.returncode == 0 else done.stderr + done.stdout


def test_a_password_nats_takes_for_a_date_stops_the_server() -> None:
    taken_for_a_date = ["95-x8abcdefghijklmnopqrstu", *(["plain"] * (len(VARIABLES) - 1))]
    problem = config_problem(taken_for_a_date)
    assert problem and "could not be parsed" in problem


def test_generated_passwords_are_all_accepted() -> None:
    password = make_env().password
    for _ in range(20):  # about one run in ten failed with the plain token_urlsafe passwords
        passwords = [password() for _ in VARIABLES]
        assert config_problem(passwords) is None, passwords
