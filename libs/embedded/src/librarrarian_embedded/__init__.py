"""Servers the embedded default starts for itself: NATS with JetStream and PostgreSQL."""

from .nats_server import NatsServer
from .postgres import PostgresServer

__all__ = ["NatsServer", "PostgresServer"]
