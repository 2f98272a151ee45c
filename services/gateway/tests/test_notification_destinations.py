"""Which host of an Apprise URL the outbound rules check: the server the URL names, e-mail's SMTP server,
nothing for a service at its fixed public address; redirects off whatever the URL says. Pure: no server."""

from __future__ import annotations

import pytest
from librarrarian_gateway.notify import destinations
from librarrarian_runtime.outbound import PrivateServers

CHECKED = {
    "json://hooks:pw@127.0.0.1:8080/x": ("127.0.0.1", 8080),
    "form://hooks.lan/in": ("hooks.lan", 0),
    "xmls://10.0.0.5:8443/in": ("10.0.0.5", 8443),
    "gotify://gotify.lan/AbCdEfGhIjKlMnO": ("gotify.lan", 0),
    "ntfy://ntfy.lan/topic": ("ntfy.lan", 0),
    "apprise://apprise.lan/token": ("apprise.lan", 0),
    "matrix://me:pw@matrix.lan/#room": ("matrix.lan", 0),
    "mmost://mattermost.lan/token": ("mattermost.lan", 0),
    "mailto://me:pw@example.com?smtp=smtp.lan": ("smtp.lan", 25),
    "mailto://me:pw@gmail.com": ("smtp.gmail.com", 587),
    "zulip://bot@team.zulip.lan/lqn6mpwpam6VZzbCW0o7olmk3hwbQSK0": ("team.zulip.lan", 443),
}
FIXED = [
    "discord://1234567890/abcdefghij",
    "tgram://123456789:abcdefg_hijklmnop/12315544/",
    "pover://uuuuuuuuuuuuuuuuuuuuuuuuuuuuuu@tttttttttttttttttttttttttttttt",
    "ntfy://topic",  # ntfy.sh
    "zulip://bot@team/lqn6mpwpam6VZzbCW0o7olmk3hwbQSK0",  # team.zulipchat.com
    "mailgun://sender@example.com/apikey",  # example.com is the sender's domain; the API is Mailgun's
]


@pytest.mark.parametrize(("url", "server"), CHECKED.items())
def test_the_server_a_url_names_is_the_one_checked(url: str, server: tuple[str, int]) -> None:
    assert destinations.server_of(destinations.plugin_of(url)) == server


@pytest.mark.parametrize("url", FIXED)
def test_a_service_at_its_fixed_address_has_no_host_to_check(url: str) -> None:
    assert destinations.server_of(destinations.plugin_of(url)) is None
    destinations.guarded(url, PrivateServers.NONE)  # nothing resolved, nothing refused


def test_redirects_are_off_whatever_the_url_says() -> None:
    plugin = destinations.guarded("json://192.168.1.9/in?redirect=yes", PrivateServers.LAN)
    assert plugin.redirects is False


def test_a_url_apprise_cannot_use_is_refused_without_repeating_it() -> None:
    with pytest.raises(destinations.NotAnAppriseUrl) as refused:
        destinations.plugin_of("nonsense://secret@x/y")
    assert "secret" not in str(refused.value)
