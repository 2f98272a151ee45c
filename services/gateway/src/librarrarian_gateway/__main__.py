import asyncio

from librarrarian_runtime import env, logs

from . import service
from .settings import Settings


def main() -> None:
    logs.configure("gateway")
    try:
        settings = Settings.from_env()
    except env.SettingsError as error:
        raise SystemExit(f"gateway: {error}") from None
    asyncio.run(service.run(settings))


if __name__ == "__main__":
    main()
