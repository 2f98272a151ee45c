"""The bus as tables for people: ``docs/bus.md``, made from :mod:`catalog` by ``make schema`` and checked
against it by the contract tests, so the page cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from . import catalog, permissions, topology

# The repository's docs folder (this module lies in libs/contracts/src/librarrarian_contracts).
DOCUMENT = Path(__file__).resolve().parents[4] / "docs" / "bus.md"


def _roles(roles: tuple[catalog.Role, ...]) -> str:
    return ", ".join(roles) or "the NATS server"


def _names(types: tuple[type[object], ...]) -> str:
    return ", ".join(f"`{t.__name__}`" for t in types)


def render() -> str:
    lines = [
        "# The bus",
        "",
        "Made from `libs/contracts/src/librarrarian_contracts/catalog.py` by `make schema`; do not edit by hand.",
        "The same table, with every message's JSON Schema, is served as an AsyncAPI 3.0 document at",
        "`/api/v1/asyncapi.json`. *Public* subjects are what the `integration` NATS user may subscribe to.",
        "",
        "## Subjects",
        "",
        "| subject | messages | stream | produced by | consumed by | public | what it says |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in catalog.CHANNELS:
        stream = c.stream.name if c.stream else "none"
        public = "yes" if c.public else ""
        lines.append(
            f"| `{c.address}` | {_names(c.messages)} | {stream} | {_roles(c.producers)} | "
            f"{_roles(c.consumers)} | {public} | {c.summary} |"
        )
    lines += [
        "",
        "## Requests and replies (`nats.micro` endpoints)",
        "",
        "| subject | request | reply | answered by | asked by | what it does |",
        "|---|---|---|---|---|---|",
    ]
    for e in catalog.ENDPOINTS:
        lines.append(
            f"| `{e.subject}` | `{e.request.__name__}` | `{e.reply.__name__}` | {e.server} | "
            f"{_roles(e.clients)} | {e.summary} |"
        )
    lines += [
        "",
        "## KV buckets",
        "",
        "| bucket | key | values | written by | read by | public | what it holds |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in catalog.BUCKETS:
        public = "yes" if b.public else ""
        writers = _roles(b.writers) + "".join(f"; {role} (`{key}` at first start)" for role, key in b.seeds)
        lines.append(
            f"| `{b.spec.name}` | {b.key} | {_names(b.values)} | {writers} | {_roles(b.readers)} | "
            f"{public} | {b.summary} |"
        )
    lines += [
        "",
        "## Object stores",
        "",
        "| store | written and removed by | read by | what it holds |",
        "|---|---|---|---|",
    ]
    for store in catalog.STORES:
        lines.append(
            f"| `{store.spec.name}` | {_roles(store.writers)} | {_roles(store.readers)} | {store.summary} |"
        )
    lines.append(
        f"| `{topology.TRANSFERS.name}-<name>` | encoder, and the node `<name>` | encoder, and the node `<name>` | "
        "One for each node without the library the cluster names (`REMOTE_NODES`): what the library's nodes put "
        "there for it (a job's plan and source) and the segments it encodes. |"
    )
    lines += [
        "",
        "## Durable consumers",
        "",
        "| durable | stream | reads | taken by | also moved by | max-deliveries advisory to | what for |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in catalog.DURABLES:
        lines.append(
            f"| `{d.spec.durable}` | {d.spec.stream} | `{d.spec.filter_subject}` | {_roles(d.consumers)} | "
            f"{', '.join(d.movers)} | {', '.join(d.advised)} | {d.summary} |"
        )
    for x in catalog.LOOKUPS:
        removed = f"; single messages are taken out of it by {_roles(x.removers)}" if x.removers else ""
        lines.append(
            f"\nThe {x.stream.name} stream is read message by message by {_roles(x.readers)}{removed}. {x.summary}"
        )
    lines += [
        "",
        "## Permissions",
        "",
        "Each NATS user's allow-lists, made from the tables above (`permissions.py`; `deploy/nats.conf` is made",
        "from them too). A user receives replies only in its own inbox (`_INBOX_<user>.>`). A user that answers",
        "requests may publish one reply to each request it received. Nothing else is allowed; in particular",
        "nobody may delete or purge a stream or a consumer.",
    ]
    example = "laptop"
    example_store = topology.remote_store(example).name
    for user, allowed in permissions.users((example,)).items():
        lines += ["", f"### {user}", ""]
        if user == topology.remote_user(example):
            lines += [
                f"A node without the library logs in as `remote-<name>`; shown here for one named `{example}`. "
                f"The encoder user reaches each such node's store too (on this page, `{example_store}`), and the "
                "provision user creates it.",
                "",
            ]
        published = ", ".join(f"`{s}`" for s in allowed.publish) or "nothing"
        lines.append(f"- publishes: {published}")
        lines.append(f"- subscribes: {', '.join(f'`{s}`' for s in allowed.subscribe)}")
        if allowed.responses:
            lines.append("- answers the requests it receives")
    return "\n".join(lines) + "\n"
