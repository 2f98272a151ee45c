import asyncio

from librarrarian_runtime import logs

from . import service
from .settings import Settings


def main() -> None:
    logs.configure("provision")
    asyncio.run(service.run(Settings.from_env()))


if __name__ == "__main__":
    main()
