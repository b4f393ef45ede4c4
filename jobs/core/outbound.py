"""Where the server may send requests on a user's behalf (alert webhooks), against SSRF.

A URL a user typed must be http(s) and every address its host resolves to public: not
private, loopback, link-local, reserved, multicast or unspecified. An administrator may
allow private targets (`TUNEBOARD_ALERT_ALLOW_PRIVATE=1`, for a webhook on the LAN).
Checked when a channel is saved and again before each send (the name may resolve
elsewhere by then); redirects are never followed.
"""

import ipaddress
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

_URL = URLValidator(schemes=["http", "https"])


def _blocked(address):
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def outbound_url_check(url, *, allow_private=None):
    """Raise `ValueError` (a message a user reads) unless `url` may be posted to."""
    if not isinstance(url, str):
        raise ValueError("A URL string is required.")
    try:
        _URL(url)
    except ValidationError:
        raise ValueError("Enter a valid http:// or https:// URL.") from None
    if allow_private is None:
        allow_private = settings.TUNEBOARD_ALERT_ALLOW_PRIVATE
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise ValueError(f"The host {host!r} cannot be resolved.") from None
    if any(_blocked(info[4][0]) for info in infos):
        raise ValueError(
            f"The host {host!r} is a private or loopback address; an administrator may "
            "allow those with TUNEBOARD_ALERT_ALLOW_PRIVATE=1."
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def outbound_post(url, data, headers, *, timeout=10.0):
    """POST `data` (bytes) to `url` once; returns `(ok, detail)`, never raises for a
    network or HTTP failure. The target is checked first; a redirect is a failure."""
    try:
        outbound_url_check(url)
    except ValueError as exc:
        return False, str(exc)
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(65536)
            return 200 <= response.status < 300, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        return False, str(getattr(exc, "reason", exc))[:300]
