"""The arr service: rename and quality scans of Sonarr, Radarr and Lidarr, rescans after a transcode, renames
a user approved, and the apps' webhooks."""

import asyncio

from librarrarian_runtime import logs

from . import service
from .settings import Settings


def main() -> None:
    logs.configure("arr")
    asyncio.run(service.run(Settings.from_env()))


if __name__ == "__main__":
    main()
