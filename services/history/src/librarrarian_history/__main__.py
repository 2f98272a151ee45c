from librarrarian_runtime import lifecycle, logs

from . import service
from .settings import Settings


def main() -> None:
    logs.configure("history")
    lifecycle.run_service(service.run(Settings.from_env()))


if __name__ == "__main__":
    main()
