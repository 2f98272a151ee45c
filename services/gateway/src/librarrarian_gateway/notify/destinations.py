"""Where a notification URL sends, and whether it may: the outbound rules of ``librarrarian_runtime.outbound``
(never a cloud metadata or link-local address; this machine and the home network as ``PRIVATE_SERVERS``
says), checked when a URL is added and again before every message (its name may resolve elsewhere by then).

Which host is checked is read from the plugin Apprise makes of the URL:

- a kind whose Apprise URL names a server (``{host}`` in its URL syntax: ``json://``, ``form://``, ``xml://``,
  ``apprise://``, ``gotify://``, ``ntfy://host/…``, ``matrix://``, ``mmost://``, ``rocket://``, ``ncloud://``,
  ``hassio://``, ``signal://`` and the other self-hosted ones): that server, as Apprise parsed it;
- e-mail (``mailto://``, ``mailtos://``): the SMTP server it connects to (``smtp=``, or the one Apprise
  knows for the address's provider);
- Zulip with its own server (``zulip://bot@org.zulip.lan/…``): that server;
- kinds that send to their service's fixed public address (``discord://``, ``tgram://``, ``pover://``,
  ``slack://`` and the like), and those whose ``{host}`` is only the sender's mail domain on a mail API
  (Mailgun, SparkPost, SendPulse, SMTP2Go) or that use their public default without a host (``ntfy://topic``
  is ntfy.sh): no user-named host to check.

Redirects are never followed: every plugin's ``redirects`` is turned off, whatever the URL says.
"""

from __future__ import annotations

from typing import Any

import apprise
from librarrarian_runtime import outbound
from librarrarian_runtime.outbound import PrivateServers

# Their ``{host}`` is the sender's mail domain; they post to their service's own API.
MAIL_DOMAIN_ONLY = frozenset({"NotifyMailgun", "NotifySparkPost", "NotifySendPulse", "NotifySMTP2Go"})


class NotAnAppriseUrl(ValueError):
    pass


def plugin_of(url: str) -> Any:
    """The Apprise plugin of ``url``, or :class:`NotAnAppriseUrl` (in words without the URL)."""
    plugin = apprise.Apprise.instantiate(url.strip(), suppress_exceptions=True)
    if plugin is None:
        scheme = url.partition("://")[0] if "://" in url else ""
        hint = f" (scheme {scheme!r})" if scheme and len(scheme) < 20 else ""
        raise NotAnAppriseUrl(f"not a notification URL Apprise can use{hint}")
    return plugin


def server_of(plugin: Any) -> tuple[str, int] | None:
    """The host (and port) the URL named that ``plugin`` will connect to; None when it sends to its
    service's fixed public address."""
    kind = type(plugin).__name__
    port = int(plugin.port or 0)
    if kind == "NotifyEmail":
        return str(plugin.smtp_host), port
    if kind == "NotifyZulip":
        hostname = str(plugin.hostname)
        return (f"{plugin.organization}.{hostname}", 443) if hostname != plugin.default_hostname else None
    names_a_server = any("{host}" in template for template in getattr(plugin, "templates", ()))
    if not names_a_server or kind in MAIL_DOMAIN_ONLY or not plugin.host:
        return None
    return str(plugin.host), port


def check(plugin: Any, allowed: PrivateServers) -> None:
    """Refuse (``RefusedAddress``, or ``BadRequest`` for a name that does not resolve) a plugin whose server
    may not be reached; blocking (it resolves the name)."""
    server = server_of(plugin)
    if server is not None:
        outbound.check_host(*server, allowed)


def guarded(url: str, allowed: PrivateServers) -> Any:
    """The plugin of ``url``, checked, with redirects off; raises as :func:`plugin_of` and :func:`check`."""
    plugin = plugin_of(url)
    check(plugin, allowed)
    plugin.redirects = False
    return plugin
