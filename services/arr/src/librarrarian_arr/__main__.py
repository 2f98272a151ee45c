"""The arr service: rename and quality scans of Sonarr, Radarr and Lidarr, rescans after a transcode, renames
a user approved, and the apps' webhooks."""

from librarrarian_runtime import lifecycle, logs

from . import service
from .settings import Settings


def main() -> None:
    logs.configure("arr")
    lifecycle.run_service(service.run(Settings.from_env()))


if __name__ == "__main__":
    main()
