"""The cluster deployment files: the compose file is valid Compose, each image names a real service,
and the NATS configuration is accepted by the real server."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jsonschema
import yaml
from librarrarian_embedded.nats_server import binary

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SPEC = ROOT.parent / "shared" / "specs" / "compose-spec.json"
SERVICES = {"scanner", "scheduler", "encoder", "history", "gateway"}


def compose() -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(SPEC.read_text())
    # The spec names its draft by an id jsonschema does not know; it is draft 7.
    jsonschema.Draft7Validator(schema).validate(compose())


def test_every_service_has_its_own_image_built_from_a_real_package() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    built = {name: spec["build"]["args"]["SERVICE"] for name, spec in services.items() if "build" in spec}
    assert built == {name: name for name in SERVICES}
    for name in SERVICES:
        pyproject = (ROOT / "services" / name / "pyproject.toml").read_text()
        assert f'name = "librarrarian-{name}"' in pyproject
        assert f'librarrarian-{name} = "librarrarian_{name}.__main__:main"' in pyproject


def test_every_service_gets_its_own_nats_user_and_the_config_is_valid(tmp_path: Path) -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    conf = (DEPLOY / "nats.conf").read_text()
    env = {}
    for name in SERVICES:
        url = services[name]["environment"]["NATS_URL"]
        assert url.startswith(f"nats://{name}:"), url
        assert re.search(rf"user: {name},\s+password: \$NATS_{name.upper()}_PASSWORD", conf)
        env[f"NATS_{name.upper()}_PASSWORD"] = f"secret-{name}"
    config = tmp_path / "nats.conf"
    config.write_text(conf.replace("store_dir: /data", f"store_dir: {json.dumps(str(tmp_path))}"))
    result = subprocess.run(
        [binary(), "-c", str(config), "-t"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr + result.stdout
