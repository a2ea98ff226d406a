"""The one way this app downloads a picture a provider points at (an image URL in a reply).

A reply's URL is untrusted: a hostile or broken "OpenAI-compatible" server can point it at an internal
service (SSRF), redirect there, send 700 MB, or drip one byte every few seconds. So a URL is fetched only

- from the provider's own origin (its base URL's scheme, host and port), or over HTTPS from one of the
  engine's delivery hosts (catalog data, e.g. BFL's ``delivery-*.bfl.ai``; ``*`` stands for one label);
- from a private, loopback or link-local address only when that is the provider's own origin (demo mode
  and local servers keep working); the name is resolved here and the connection goes to the very address
  that was checked, so a second DNS answer cannot swap it;
- following at most a few redirects, each one checked as above;
- reading at most ``max_bytes`` and ending at a total deadline, however slowly the bytes come;
- through the environment's proxy when one is set (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY), with the
  user and password written into its URL, as the SDKs do (an http:// proxy: anything else is said in words). The
  rules above still hold behind a proxy: a URL is refused before anything is sent to it, and a name that resolves
  here to a private address is refused; only a name this machine cannot resolve is left to the proxy, and only for
  the provider's own origin or a delivery host.

Every refusal is a ``ProviderDown`` whose message says what happened in words; no key or header of the
provider call goes with the download (the origin's extra headers do, e.g. a proxy's).
"""
from __future__ import annotations

import base64
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lib import limits
from lib.config import proxy_credentials
from lib.errors import ProviderDown

_CHUNK = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


def _split(url: str) -> _Target | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(scheme, parts.hostname.rstrip(".").lower(), port, path)


def _host_pattern(pattern: str) -> re.Pattern:
    labels = pattern.strip().rstrip(".").lower()
    return re.compile("^" + re.escape(labels).replace(r"\*", "[a-z0-9-]+") + "$")


def _is_internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


@dataclass(frozen=True)
class _Proxy:
    host: str
    port: int
    authorization: str | None  # the Proxy-Authorization value for a user and password in the URL

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port


def _proxy_for(target: _Target) -> _Proxy | None:
    """The proxy the environment sets for this URL (HTTPS_PROXY / HTTP_PROXY, else ALL_PROXY; NO_PROXY), as
    httpx and requests read them."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(target.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(target.host):
        return None
    url = proxy if "://" in proxy else f"http://{proxy}"
    parsed = _split(url)
    if parsed is None or parsed.scheme != "http":
        scheme = url.split("://", 1)[0][:12]
        raise _refused(f"The proxy set in the environment is a {scheme}:// proxy; pictures are downloaded through "
                       "http:// proxies only. Set HTTPS_PROXY / HTTP_PROXY to an http:// proxy.", "fetch_failed")
    credentials = proxy_credentials(url)  # remembered as secrets, so no message can show the password
    authorization = None
    if credentials is not None:
        authorization = "Basic " + base64.b64encode(":".join(credentials).encode("utf-8")).decode("ascii")
    return _Proxy(parsed.host, parsed.port, authorization)


def _refused(message: str, code: str, **more) -> ProviderDown:
    return ProviderDown(message, code=code, **more)


class _Fetch:
    def __init__(self, base_url: str, delivery_hosts, provider: str, max_bytes: int, deadline_s: float,
                 headers: dict | None) -> None:
        self.base = _split(base_url or "")
        self.delivery = [_host_pattern(p) for p in (delivery_hosts or ()) if p and p.strip()]
        self.provider, self.max_bytes, self.headers = provider, max_bytes, dict(headers or {})
        self.deadline_s = deadline_s
        self.deadline = time.monotonic() + deadline_s

    # -------------------------------------------------------------- the rules
    def own_origin(self, target: _Target) -> bool:
        return self.base is not None and target.origin == self.base.origin

    def check(self, target: _Target | None, url: str, how: str) -> str | None:
        """The address to connect to (None: the proxy resolves the name), or a refusal in words."""
        if target is None:
            raise _refused(f"The provider {how} a picture at an address this app does not fetch "
                           f"({url[:80]!r}: only http and https links are).", "fetch_refused", provider=self.provider)
        own = self.own_origin(target)
        if not own:
            if not any(p.match(target.host) for p in self.delivery):
                base = self.base.host if self.base else "its base URL"
                raise _refused(f"The provider {how} a picture on {target.host}, which is neither its own server "
                               f"({base}) nor one of its delivery hosts, so it was not fetched.",
                               "fetch_refused", provider=self.provider)
            if target.scheme != "https":
                raise _refused(f"The provider {how} a picture on {target.host} over plain http; pictures from "
                               "delivery hosts are fetched over https only.", "fetch_refused", provider=self.provider)
        try:
            answers = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            if _proxy_for(target) is not None:
                return None  # only the proxy can resolve it (the usual case behind one): it connects for us
            raise _refused(f"The picture's host {target.host} could not be found ({exc.__class__.__name__}). "
                           "Try again.", "fetch_failed", provider=self.provider) from None
        addresses = [a[4][0] for a in answers]
        internal = [a for a in addresses if _is_internal(a)]
        if internal and not own:
            raise _refused(f"The provider {how} a picture on {target.host}, which resolves to a private or local "
                           f"address ({internal[0]}); only the provider's own server may be local, so it was not "
                           "fetched.", "fetch_refused", provider=self.provider)
        return addresses[0]

    # -------------------------------------------------------------- one request
    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def too_slow(self, target: _Target) -> ProviderDown:
        return _refused(f"Downloading the picture from {target.host} took longer than {self.deadline_s:g} s, so it "
                        "was stopped. Try again.", "fetch_timeout", provider=self.provider)

    def get(self, target: _Target, address: str | None) -> tuple[int, str | None, bytes]:
        """(status, Location, body) of one GET to ``address`` (or through the environment's proxy, as the SDKs
        go), within the deadline and the byte cap."""
        if self.remaining() <= 0:
            raise self.too_slow(target)
        proxy, path = _proxy_for(target), target.path
        connect_to = proxy.address if proxy else (address, target.port)
        proxy_auth = {"Proxy-Authorization": proxy.authorization} if proxy and proxy.authorization else {}
        if target.scheme == "https":
            conn: http.client.HTTPConnection = _PinnedHTTPS(target.host, target.port, connect_to, self.remaining())
            if proxy:  # CONNECT: the TLS session is still with the host itself
                conn.set_tunnel(target.host, target.port, headers=proxy_auth or None)
        else:
            conn = _PinnedHTTP(target.host, target.port, connect_to, self.remaining())
            if proxy:
                path = f"http://{target.host}:{target.port}{target.path}"  # a forward proxy takes the whole URL
        # A deadline for the whole exchange, however the bytes trickle: shut the socket when it passes.
        watchdog = threading.Timer(max(self.remaining(), 0.0), conn.abort)
        watchdog.daemon = True
        watchdog.start()
        try:
            headers = {"Accept": "image/*", "User-Agent": "imagine-studio",
                       **(self.headers if self.own_origin(target) else {}),
                       **(proxy_auth if target.scheme == "http" else {})}
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                return response.status, response.getheader("Location"), b""
            if response.status == 407:
                raise self.proxy_refused()
            if response.status != 200:
                return response.status, None, b""
            declared = response.getheader("Content-Length")
            if declared and declared.strip().isdigit() and int(declared) > self.max_bytes:
                raise self.too_big(target)
            body = bytearray()
            while True:
                left = self.remaining()
                if left <= 0:
                    raise self.too_slow(target)
                conn.live_socket.settimeout(left)
                chunk = response.read1(_CHUNK)
                if not chunk:
                    break
                body += chunk
                if len(body) > self.max_bytes:
                    raise self.too_big(target)
            if self.remaining() <= 0:
                raise self.too_slow(target)
            return 200, None, bytes(body)
        except ProviderDown:
            raise
        except (OSError, http.client.HTTPException, ValueError, AttributeError) as exc:
            if self.remaining() <= 0:
                raise self.too_slow(target) from None
            if proxy and " 407" in str(exc):  # http.client's "Tunnel connection failed: 407 ..."
                raise self.proxy_refused() from None
            raise _refused(f"Downloading the picture from {target.host} failed ({type(exc).__name__}). Try again.",
                           "fetch_failed", provider=self.provider) from None
        finally:
            watchdog.cancel()
            conn.close()
            if conn.live_socket is not None:
                conn.live_socket.close()

    def proxy_refused(self) -> ProviderDown:
        return _refused("The proxy set in the environment refused to pass the picture's download on (407: proxy "
                        "sign-in needed). Check the user and password in HTTPS_PROXY / HTTP_PROXY.", "fetch_failed",
                        provider=self.provider, http_status=407)

    def too_big(self, target: _Target) -> ProviderDown:
        return _refused(f"The picture at {target.host} is larger than {self.max_bytes / 1024 / 1024:g} MB, so it was "
                        "not downloaded.", "fetch_too_large", provider=self.provider)


class _Pinned:
    """http.client connections that connect to an address checked beforehand, whatever the name resolves to now."""

    live_socket: socket.socket | None = None  # kept here too: http.client lets go of .sock once a reply will close

    def _open(self, address: tuple[str, int]) -> socket.socket:
        return socket.create_connection(address, timeout=self.timeout)

    def abort(self) -> None:
        """Wake a read blocked on a slow server (called from the deadline's timer thread)."""
        sock = self.live_socket
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _PinnedHTTP(_Pinned, http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: tuple[str, int], timeout: float) -> None:
        http.client.HTTPConnection.__init__(self, host, port, timeout=max(timeout, 0.01))
        self._address = address

    def connect(self) -> None:
        self.sock = self.live_socket = self._open(self._address)


class _PinnedHTTPS(_Pinned, http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: tuple[str, int], timeout: float) -> None:
        http.client.HTTPSConnection.__init__(self, host, port, timeout=max(timeout, 0.01),
                                             context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        self.sock = self.live_socket = self._open(self._address)
        if self._tunnel_host:  # through a proxy: CONNECT first, then TLS with the picture's host
            self._tunnel()
        self.sock = self.live_socket = self._context.wrap_socket(self.sock, server_hostname=self._tunnel_host or self.host)


def fetch_image(url: str, *, base_url: str, delivery_hosts=(), provider: str | None = None,
                max_bytes: int | None = None, deadline_s: float | None = None, headers: dict | None = None) -> bytes:
    """The bytes at ``url`` if the rules above allow it; otherwise a ``ProviderDown`` saying why.

    ``max_bytes`` and ``deadline_s`` default to ``lib.limits`` (DOWNLOAD_MAX_BYTES, DOWNLOAD_TIMEOUT_S)."""
    fetch = _Fetch(base_url, delivery_hosts, provider or "",
                   limits.DOWNLOAD_MAX_BYTES if max_bytes is None else max_bytes,
                   limits.DOWNLOAD_TIMEOUT_S if deadline_s is None else deadline_s, headers)
    target, how = _split(url), "pointed at"
    for _hop in range(limits.DOWNLOAD_MAX_REDIRECTS + 1):
        address = fetch.check(target, url, how)
        status, location, body = fetch.get(target, address)
        if status == 200:
            return body
        if location is None:
            if status in (301, 302, 303, 307, 308):
                raise _refused(f"The picture at {target.host} redirected nowhere (HTTP {status}). Try again.",
                               "fetch_failed", provider=fetch.provider, http_status=status)
            raise _refused(f"Downloading the picture from {target.host} failed (HTTP {status}).", "fetch_failed",
                           provider=fetch.provider, http_status=status)
        url = urljoin(f"{target.scheme}://{target.host}:{target.port}{target.path}", location)
        target, how = _split(url), "redirected to"
    raise _refused(f"The picture's link redirected more than {limits.DOWNLOAD_MAX_REDIRECTS} times, so it was not "
                   "fetched.",
                   "fetch_refused", provider=fetch.provider)
