"""Read YAML and build a :class:`Config`, naming the bad key on every mistake."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from pathlib import Path
from typing import Any

import yaml

from mailserver.config.errors import ConfigError
from mailserver.config.model import (
    DEFAULT_PORTS,
    DEFAULT_SPECIAL_FOLDERS,
    TLS_MODES,
    AuthSettings,
    Config,
    Limits,
    ListenAddress,
    QuotaSettings,
    RelayRoute,
    RelaySettings,
    TimeoutSettings,
    TlsSettings,
    TranscriptSettings,
    WebSettings,
    default_workers,
)

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def load_config(path: str | Path) -> Config:
    """Load and validate the YAML file at ``path``."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {_yaml_problem(exc)}") from None
    return parse_config(raw, base_dir=file.resolve().parent, source=file.resolve())


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's message names the stream ``<unicode string>``; say the line and column
    instead (the caller names the file), and what is wrong there."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + (f"{problem} ({context})" if context else problem)


def parse_config(raw: Any, base_dir: Path, source: Path | None = None) -> Config:
    """Validate an already-parsed YAML document; paths resolve against ``base_dir``."""
    if not isinstance(raw, dict):
        raise ConfigError("the config file must be a mapping of keys (hostname, domains, ...)")
    known = {
        "hostname",
        "domains",
        "data_dir",
        "listeners",
        "postmaster",
        "users_file",
        "log_level",
        "limits",
        "timeouts",
        "auth",
        "tls",
        "quota",
        "folders",
        "workers",
        "transcripts",
        "web",
        "relay",
    }
    _reject_unknown(raw, known, "")
    hostname = _string(raw, "hostname", required=True)
    domains_raw = raw.get("domains", [hostname])
    if isinstance(domains_raw, str):
        domains_raw = [domains_raw]
    if not isinstance(domains_raw, list) or not domains_raw:
        raise ConfigError("domains: expected a non-empty list of mail domains, e.g. [NetLab]")
    domains: list[str] = []
    for index, domain in enumerate(domains_raw):
        if not isinstance(domain, str) or not domain.strip() or " " in domain.strip():
            raise ConfigError(f"domains[{index}]: expected a domain name, got {domain!r}")
        domains.append(domain.strip().rstrip("."))
    data_dir = _path(raw, "data_dir", base_dir) or base_dir / "data"
    users_file = _path(raw, "users_file", base_dir)
    postmaster = _string(raw, "postmaster") or "postmaster"
    log_level = (_string(raw, "log_level") or "INFO").upper()
    if log_level not in _LOG_LEVELS:
        raise ConfigError(f"log_level: expected one of {', '.join(_LOG_LEVELS)}, got {log_level!r}")
    auth = _section(raw, "auth", AuthSettings)
    _check_password_scheme(auth.password_scheme)
    auth = dataclasses.replace(
        auth, exempt_networks=_networks(auth.exempt_networks, "auth.exempt_networks")
    )
    listeners = _listeners(raw.get("listeners", {}))
    relay = _relay(raw.get("relay"), domains, listeners)
    return Config(
        hostname=hostname,
        domains=tuple(domains),
        data_dir=data_dir,
        listeners=listeners,
        postmaster=postmaster.lower(),
        users_file=users_file,
        log_level=log_level,
        limits=_limits(_section(raw, "limits", Limits)),
        timeouts=_section(raw, "timeouts", TimeoutSettings),
        auth=auth,
        tls=_tls(raw.get("tls"), base_dir),
        quota=_quota(raw.get("quota")),
        special_folders=_folders(raw.get("folders")),
        workers=_workers(raw.get("workers")),
        transcripts=_transcripts(raw.get("transcripts"), base_dir),
        web=_web(raw.get("web")),
        relay=relay,
        source=source,
    )


#: More workers than this is a typo, not a machine (each one is a process).
MAX_WORKERS = 256


def _workers(value: Any) -> int:
    """``workers``: a count of processes, or ``auto`` / absent for one per core."""
    if value is None or value == "auto":
        return default_workers()
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WORKERS:
        raise ConfigError(
            f"workers: expected a number of processes from 1 to {MAX_WORKERS} or 'auto', "
            f"got {value!r}"
        )
    return value


def parse_listen_address(value: Any, protocol: str) -> ListenAddress:
    """Accept ``host:port``, ``[v6]:port``, ``:port``, a bare port or a bare host."""
    where = f"listeners.{protocol}"
    default_port = DEFAULT_PORTS[protocol]
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected host:port, got {value!r}")
    if isinstance(value, int):
        return ListenAddress("0.0.0.0", _port(value, where))
    if value is None:
        return ListenAddress("0.0.0.0", default_port)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected host:port such as 0.0.0.0:{default_port}")
    text = value.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise ConfigError(f"{where}: unclosed '[' in {text!r}")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif text.isdigit():
        host, port_text = "", text
    else:
        host, port_text = text, ""
    if not port_text:
        port = default_port
    elif port_text.isdigit():
        port = _port(int(port_text), where)
    else:
        raise ConfigError(f"{where}: port must be a number, got {port_text!r}")
    return ListenAddress(host or "0.0.0.0", port)


def _listeners(raw: Any) -> dict[str, ListenAddress]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("listeners: expected a mapping such as {smtp: 0.0.0.0:25}")
    result: dict[str, ListenAddress] = {}
    for protocol, value in raw.items():
        if protocol not in DEFAULT_PORTS:
            raise ConfigError(
                f"listeners.{protocol}: unknown protocol; expected one of "
                + ", ".join(DEFAULT_PORTS)
            )
        result[protocol] = parse_listen_address(value, protocol)
    return result


def _port(value: int, where: str) -> int:
    if not 0 <= value <= 65535:
        raise ConfigError(f"{where}: port {value} is outside 0-65535")
    return value


def _limits(limits: Limits) -> Limits:
    """Limits whose zero would refuse every message or stall every upload."""
    if limits.max_header_size < 1024:
        raise ConfigError(
            f"limits.max_header_size: at least 1024 octets, got {limits.max_header_size}"
        )
    if not 0 < limits.unauthenticated_share <= 1:
        raise ConfigError(
            "limits.unauthenticated_share: a share of max_connections above 0 and at most 1,"
            f" got {limits.unauthenticated_share}"
        )
    if limits.memory_budget < 1_048_576:
        raise ConfigError(f"limits.memory_budget: at least 1 MiB, got {limits.memory_budget}")
    return limits


def _section(raw: dict[str, Any], key: str, cls: Any) -> Any:
    """Build a flat settings dataclass, checking each field's type."""
    value = raw.get(key)
    if value is None:
        return cls()
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping of settings")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _reject_unknown(value, set(fields), key + ".")
    defaults = cls()
    kwargs: dict[str, Any] = {}
    for name, item in value.items():
        expected = type(getattr(defaults, name))
        where = f"{key}.{name}"
        if expected is bool:
            if not isinstance(item, bool):
                raise ConfigError(f"{where}: expected true or false, got {item!r}")
        elif expected in (int, float):
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise ConfigError(f"{where}: expected a number, got {item!r}")
            if not math.isfinite(item):
                raise ConfigError(f"{where}: expected a finite number, got {item!r}")
            if expected is int and item != int(item):
                raise ConfigError(f"{where}: expected a whole number, got {item!r}")
            if item < 0:
                raise ConfigError(f"{where}: must not be negative, got {item!r}")
            item = expected(item)
        elif expected is str and not isinstance(item, str):
            raise ConfigError(f"{where}: expected a string, got {item!r}")
        elif expected is tuple:
            if not isinstance(item, list):
                raise ConfigError(f"{where}: expected a list, e.g. [{item!r}]")
            item = tuple(item)
        kwargs[name] = item
    return cls(**kwargs)


def _tls(raw: Any, base_dir: Path) -> TlsSettings:
    if raw is None:
        return TlsSettings()
    if not isinstance(raw, dict):
        raise ConfigError("tls: expected a mapping with certificate and key")
    _reject_unknown(raw, {"certificate", "key"}, "tls.")
    cert = _path(raw, "certificate", base_dir, where="tls.certificate")
    key = _path(raw, "key", base_dir, where="tls.key")
    if (cert is None) != (key is None):
        raise ConfigError("tls: give both certificate and key, or neither")
    return TlsSettings(certificate=cert, key=key)


_PASSWORD_MODES = ("mask", "show")


def _transcripts(raw: Any, base_dir: Path) -> TranscriptSettings:
    if raw is None:
        return TranscriptSettings()
    if not isinstance(raw, dict):
        raise ConfigError("transcripts: expected a mapping such as {passwords: mask, dir: ...}")
    directory = _path(raw, "dir", base_dir, where="transcripts.dir")
    flat = {key: value for key, value in raw.items() if key != "dir"}
    settings: TranscriptSettings = _section(
        {"transcripts": flat}, "transcripts", TranscriptSettings
    )
    if settings.passwords not in _PASSWORD_MODES:
        raise ConfigError(
            f"transcripts.passwords: expected mask or show, got {settings.passwords!r}"
        )
    return dataclasses.replace(settings, dir=directory)


def _megabytes(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigError(f"{where}: expected a size in MiB (a number >= 0), got {value!r}")
    return float(value)


def _quota(raw: Any) -> QuotaSettings:
    if raw is None:
        return QuotaSettings()
    if not isinstance(raw, dict):
        raise ConfigError("quota: expected a mapping with default_mb and/or users")
    _reject_unknown(raw, {"default_mb", "users"}, "quota.")
    users_raw = raw.get("users") or {}
    if not isinstance(users_raw, dict):
        raise ConfigError("quota.users: expected a mapping of user name to MiB")
    users: dict[str, float] = {}
    for name, value in users_raw.items():
        size = _megabytes(value, f"quota.users.{name}")
        if size is not None:
            users[str(name).lower()] = size
    return QuotaSettings(
        default_mb=_megabytes(raw.get("default_mb"), "quota.default_mb"), users=users
    )


#: Config key under ``folders`` -> special-use attribute (RFC 6154).
_FOLDER_KEYS = {attr[1:].lower(): attr for attr in DEFAULT_SPECIAL_FOLDERS}


def _folders(raw: Any) -> dict[str, str]:
    if raw is None:
        return dict(DEFAULT_SPECIAL_FOLDERS)
    if not isinstance(raw, dict):
        raise ConfigError("folders: expected a mapping such as {sent: Sent, trash: Trash}")
    _reject_unknown(raw, set(_FOLDER_KEYS), "folders.")
    result = dict(DEFAULT_SPECIAL_FOLDERS)
    for key, name in raw.items():
        attribute = _FOLDER_KEYS[key]
        if name is None or name is False:
            del result[attribute]
            continue
        if not isinstance(name, str) or not name.strip() or name.strip().upper() == "INBOX":
            raise ConfigError(f"folders.{key}: expected a folder name, got {name!r}")
        result[attribute] = name.strip()
    _check_folder_names(result)
    return result


def _check_folder_names(folders: dict[str, str]) -> None:
    """Names the store can create, each used once: found here, not at the first login."""
    from mailserver.storage.maildir.store import check_default_folders

    seen: dict[str, str] = {}
    for attribute, name in folders.items():
        key = f"folders.{attribute[1:].lower()}"
        try:
            ((canonical, _),) = check_default_folders([(name, attribute)])
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None
        if canonical in seen:
            raise ConfigError(f"{key}: {name!r} is already the folder of {seen[canonical]}")
        seen[canonical] = key


def _web(raw: Any) -> WebSettings:
    """The ``web`` section: ``admins`` is a list of account names, the rest are numbers."""
    if raw is None:
        return WebSettings()
    if not isinstance(raw, dict):
        raise ConfigError("web: expected a mapping such as {admins: [teacher]}")
    rest = {key: value for key, value in raw.items() if key != "admins"}
    settings: WebSettings = _section({"web": rest}, "web", WebSettings)
    admins_raw = raw.get("admins") or []
    if isinstance(admins_raw, str):
        admins_raw = [admins_raw]
    if not isinstance(admins_raw, list):
        raise ConfigError("web.admins: expected a list of account names, e.g. [teacher]")
    admins: list[str] = []
    for index, name in enumerate(admins_raw):
        if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name.strip()):
            raise ConfigError(f"web.admins[{index}]: expected an account name, got {name!r}")
        admins.append(name.strip().lower())
    if settings.max_sessions < 1:
        raise ConfigError("web.max_sessions: must be at least 1")
    if settings.page_size < 1:
        raise ConfigError("web.page_size: must be at least 1")
    if settings.session_lifetime <= 0 or settings.idle_timeout <= 0:
        raise ConfigError("web.session_lifetime and web.idle_timeout: must be above 0")
    return dataclasses.replace(settings, admins=tuple(admins))


_RELAY_ROUTE_KEYS = {"networks", "routes", "smarthost"}
#: Listener hosts that mean "this machine" when a route names them.
_SELF_HOSTS = {"127.0.0.1", "::1", "localhost", "0.0.0.0", "::"}


def _relay(raw: Any, domains: list[str], listeners: dict[str, ListenAddress]) -> RelaySettings:
    if raw is None:
        return RelaySettings()
    if not isinstance(raw, dict):
        raise ConfigError("relay: expected a mapping (networks, routes, smarthost, ...)")
    numbers = {k: v for k, v in raw.items() if k not in _RELAY_ROUTE_KEYS}
    base = _section({"relay": numbers}, "relay", RelaySettings)
    for key in ("max_connections", "max_per_destination"):
        if getattr(base, key) < 1:
            raise ConfigError(f"relay.{key}: must be at least 1")
    for key in ("min_backoff", "max_backoff", "lifetime", "scan_interval", "connect_timeout"):
        if getattr(base, key) <= 0:
            raise ConfigError(f"relay.{key}: must be more than 0 seconds")
    if base.max_backoff < base.min_backoff:
        raise ConfigError("relay.max_backoff: must not be less than relay.min_backoff")
    routes_raw = raw.get("routes") or {}
    if not isinstance(routes_raw, dict):
        raise ConfigError("relay.routes: expected a mapping of domain to host:port")
    own = {d.lower() for d in domains}
    routes: dict[str, RelayRoute] = {}
    for domain, value in routes_raw.items():
        where = f"relay.routes.{domain}"
        name = str(domain).strip().rstrip(".").lower()
        bare = name[2:] if name.startswith("*.") else name
        if not bare or " " in bare or "*" in bare:
            raise ConfigError(f"{where}: expected a domain or *.domain")
        if name in own:
            raise ConfigError(f"{where}: {name} is one of our own domains (a route to self)")
        routes[name] = _route(value, where, listeners)
    smarthost = None
    if raw.get("smarthost") is not None:
        smarthost = _route(raw["smarthost"], "relay.smarthost", listeners)
    return dataclasses.replace(
        base,
        networks=_networks(raw.get("networks"), "relay.networks"),
        routes=routes,
        smarthost=smarthost,
    )


def _route(value: Any, where: str, listeners: dict[str, ListenAddress]) -> RelayRoute:
    """``host:port`` or ``{host: host:port, tls: ..., auth: {user, password}}``."""
    options: dict[str, Any] = {}
    if isinstance(value, dict):
        _reject_unknown(value, {"host", "tls", "auth"}, where + ".")
        options = value
        value = value.get("host")
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected host:port such as 10.0.0.2:25")
    text = value.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ConfigError(f"{where}: the host is missing in {text!r}")
    if port_text and not port_text.isdigit():
        raise ConfigError(f"{where}: port must be a number, got {port_text!r}")
    port = _port(int(port_text), where) if port_text else 25
    if port == 0:
        raise ConfigError(f"{where}: port 0 cannot be connected to")
    tls = options.get("tls", "opportunistic")
    if tls not in TLS_MODES:
        raise ConfigError(f"{where}.tls: expected one of {', '.join(TLS_MODES)}, got {tls!r}")
    username = password = None
    auth = options.get("auth")
    if auth is not None:
        if not isinstance(auth, dict):
            raise ConfigError(f"{where}.auth: expected a mapping with user and password")
        _reject_unknown(auth, {"user", "password"}, where + ".auth.")
        username, password = auth.get("user"), auth.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise ConfigError(f"{where}.auth: give both user and password as strings")
    for name, address in listeners.items():
        ours = name in ("smtp", "submission") and address.port == port != 0
        if ours and (host.lower() in _SELF_HOSTS or host.lower() == address.host.lower()):
            raise ConfigError(f"{where}: {host}:{port} is our own {name} listener (route to self)")
    return RelayRoute(host=host, port=port, tls=tls, username=username, password=password)


def _check_password_scheme(scheme: str) -> None:
    """A scheme passlib lacks would otherwise only fail when the server starts."""
    from mailserver.auth.users import UserError, check_password_scheme

    try:
        check_password_scheme(scheme)
    except UserError as exc:
        raise ConfigError(f"auth.password_scheme: {exc}") from None


def _reject_unknown(raw: dict[str, Any], known: set[str], prefix: str) -> None:
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"{prefix}{key}: unknown setting; expected one of {', '.join(sorted(known))}"
            )


def _string(raw: dict[str, Any], key: str, required: bool = False) -> str:
    value = raw.get(key)
    if value is None:
        if required:
            raise ConfigError(f"{key}: required setting is missing")
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: expected a non-empty string, got {value!r}")
    return value.strip()


def _path(raw: dict[str, Any], key: str, base_dir: Path, where: str | None = None) -> Path | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where or key}: expected a path, got {value!r}")
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def _networks(raw: Any, key: str) -> tuple[str, ...]:
    """Address ranges (``auth.exempt_networks``, ``relay.networks``): CIDR, a bare
    address is one host; one string is a list of one; normalised."""
    if raw is None:
        return ()
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list | tuple):
        raise ConfigError(f"{key}: expected a list of address ranges such as [10.0.0.0/24]")
    result = []
    for index, value in enumerate(values):
        where = f"{key}[{index}]"
        if not isinstance(value, str):
            raise ConfigError(
                f"{where}: expected an address range such as 10.0.0.0/8, got {value!r}"
            )
        try:
            result.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise ConfigError(
                f"{where}: not an address range such as 192.168.1.0/24: {value!r}"
            ) from None
    return tuple(result)
