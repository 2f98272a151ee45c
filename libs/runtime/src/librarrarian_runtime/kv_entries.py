"""A KV bucket's current entries, read once (a page or an API call), without a consumer.

The client's ``KeyValue.keys()`` lists keys through a watch: an ephemeral consumer the server keeps for five
minutes after the call. A dashboard reading the nodes a few times a second left thousands, until the server
refused new consumers ("maximum consumers limit reached") and the dashboard answered 500. The stream's own
list of subjects says the same in one request and leaves nothing behind.
"""

from __future__ import annotations

import contextlib

from librarrarian_contracts.topology import BucketSpec
from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError, NotFoundError


async def keys(js: JetStreamContext, bucket: BucketSpec) -> list[str]:
    """Every key the bucket's stream holds a last message for, sorted (a deleted key's marker too: its
    read says it is gone)."""
    prefix = f"$KV.{bucket.name}."
    try:
        info = await js.stream_info(f"KV_{bucket.name}", subjects_filter=f"{prefix}>")
    except NotFoundError:
        return []
    return sorted(subject[len(prefix) :] for subject in info.state.subjects or {})


async def values(js: JetStreamContext, bucket: BucketSpec) -> list[tuple[str, bytes]]:
    """Every key's current value, by key; deleted, expired or emptied ones left out."""
    kv = await js.key_value(bucket.name)
    found = []
    for key in await keys(js, bucket):
        with contextlib.suppress(KeyNotFoundError, KeyDeletedError):  # gone between listing and reading
            value = (await kv.get(key)).value
            if value:
                found.append((key, value))
    return found
