"""Which nodes pause for playback: the setting, the server's machine against the node's addresses, the
override, and a stale word from the scanner."""

from __future__ import annotations

import pytest
from librarrarian_contracts.settings import StreamingSettings
from librarrarian_contracts.views import ActivePlayback, PlaybackState
from librarrarian_encoder.playback import SameMachine, pause_reason
from librarrarian_runtime import machine

PLEX_HERE = ActivePlayback(source="plex", host="nas.lan", addresses=("192.168.1.10", "fd00::10"))
JELLYFIN_ELSEWHERE = ActivePlayback(source="jellyfin", host="media.lan", addresses=("192.168.1.20",))
OWN = frozenset({"192.168.1.10"})


def reason(
    mode: str, *playing: ActivePlayback, fresh: bool = True, same: SameMachine = SameMachine.AUTO
) -> str:
    streaming = StreamingSettings(pause_while_streaming=mode)  # type: ignore[arg-type]
    state = PlaybackState(playing=playing)
    return pause_reason(streaming, state, fresh=fresh, own=OWN, same_machine=same)


def test_same_machine_pauses_only_the_nodes_on_the_servers_machine() -> None:
    assert reason("same_machine", PLEX_HERE) == "someone is watching on Plex"
    assert reason("same_machine", JELLYFIN_ELSEWHERE) == ""
    assert reason("same_machine", PLEX_HERE, JELLYFIN_ELSEWHERE) == "someone is watching on Plex"


def test_all_pauses_every_node_and_names_every_server() -> None:
    assert reason("all", JELLYFIN_ELSEWHERE, PLEX_HERE) == "someone is watching on Jellyfin and Plex"


@pytest.mark.parametrize("mode", ["same_machine", "all"])
def test_nobody_watching_off_or_a_stale_word_never_pauses(mode: str) -> None:
    assert reason(mode) == ""
    assert reason("off", PLEX_HERE) == ""
    assert reason(mode, PLEX_HERE, fresh=False) == ""


def test_the_nodes_own_setting_overrides_the_addresses() -> None:
    assert (
        reason("same_machine", JELLYFIN_ELSEWHERE, same=SameMachine.YES) == "someone is watching on Jellyfin"
    )
    assert reason("same_machine", PLEX_HERE, same=SameMachine.NO) == ""


def test_a_loopback_server_is_this_machine_and_loopback_is_never_compared() -> None:
    own = machine.own_addresses()
    assert not any(a.startswith("127.") or a == "::1" for a in own)
    assert set(machine.host_addresses("127.0.0.1")) == own
    assert machine.host_addresses("192.0.2.77") == ("192.0.2.77",)
    assert machine.host_addresses("no-such-host.invalid") == ()
