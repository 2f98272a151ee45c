"""Transcode settings for tests: the fastest presets, written where every encoder reads them."""

from __future__ import annotations

import msgspec
from librarrarian_contracts import topology
from librarrarian_contracts.settings import (
    TRANSCODE_KEY,
    EncoderFamily,
    Quality,
    TierQuality,
    TranscodeSettings,
)
from nats.js import JetStreamContext


def fastest(x265_preset: str = "ultrafast", **changes: object) -> TranscodeSettings:
    """Defaults, except the software encoders' fastest presets (a test needs a result, not a good one)."""
    base = TranscodeSettings()
    presets = {EncoderFamily.X265: x265_preset, EncoderFamily.SVTAV1: "12"}
    quality = dict(base.quality)
    for family, preset in presets.items():
        tiers = base.quality[family]
        quality[family] = TierQuality(
            **{
                name: Quality(
                    level=getattr(tiers, name).level, preset=preset, ten_bit=getattr(tiers, name).ten_bit
                )
                for name in ("sd", "hd720", "hd1080", "uhd")
            }
        )
    return msgspec.structs.replace(base, quality=quality, **changes)


async def put(js: JetStreamContext, settings: TranscodeSettings) -> None:
    """Write the settings as the gateway does (on a provisioned server)."""
    kv = await js.key_value(topology.SETTINGS.name)
    await kv.put(TRANSCODE_KEY, msgspec.json.encode(settings))
