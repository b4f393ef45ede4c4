"""Where the client keeps things: the user's config file (server and token stored by
`tuneboard login`) and the runs directory (events kept on disk for `tuneboard sync`).

- config file: `TUNEBOARD_CONFIG`, else `$XDG_CONFIG_HOME/tuneboard/config.json`
  (`~/.config/tuneboard/config.json`; `%APPDATA%\\tuneboard\\config.json` on Windows),
  written with mode 0600: it holds a token;
- runs directory: `TUNEBOARD_DIR`, else `$XDG_CACHE_HOME/tuneboard/runs`
  (`~/.cache/tuneboard/runs`; `%LOCALAPPDATA%\\tuneboard\\runs` on Windows), one
  directory per run.

Standard library only, like the rest of the client.
"""

import contextlib
import json
import os
import tempfile

__all__ = ["config_path", "load_config", "resolve", "runs_dir", "save_config"]

DEFAULT_SERVER = "http://127.0.0.1:8000"


def _home_dir(xdg_variable, windows_variable, fallback):
    base = os.environ.get(xdg_variable)
    if not base and os.name == "nt":
        base = os.environ.get(windows_variable)
    if not base:
        base = os.path.join(os.path.expanduser("~"), fallback)
    return base


def config_path():
    """The user's config file (it may not exist yet)."""
    explicit = os.environ.get("TUNEBOARD_CONFIG")
    if explicit:
        return explicit
    base = _home_dir("XDG_CONFIG_HOME", "APPDATA", ".config")
    return os.path.join(base, "tuneboard", "config.json")


def runs_dir():
    """The directory holding one directory per run kept on disk."""
    explicit = os.environ.get("TUNEBOARD_DIR")
    if explicit:
        return explicit
    base = _home_dir("XDG_CACHE_HOME", "LOCALAPPDATA", ".cache")
    if base == os.path.join("~", ".cache"):  # no home directory at all
        base = tempfile.gettempdir()
    return os.path.join(base, "tuneboard", "runs")


def load_config():
    """`{"server"?, "token"?}` from the config file; {} when there is none or it is
    unreadable (a broken file must not stop a training run)."""
    try:
        with open(config_path(), encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_config(values):
    """Merge `values` into the config file, created with mode 0600 (owner only)."""
    path = config_path()
    data = load_config()
    data.update({key: value for key, value in values.items() if value is not None})
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    partial = f"{path}.{os.getpid()}.tmp"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2)
            file.write("\n")
        os.chmod(partial, 0o600)  # an existing partial file keeps its mode: set it
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise
    return path


def resolve(server=None, token=None):
    """`(server, token)`: the arguments, else `TUNEBOARD_SERVER`/`TUNEBOARD_TOKEN`, else
    the config file, else the local default server and no token."""
    stored = None
    if not server:
        server = os.environ.get("TUNEBOARD_SERVER")
    if not token:
        token = os.environ.get("TUNEBOARD_TOKEN")
    if not server or not token:
        stored = load_config()
        server = server or stored.get("server")
        token = token or stored.get("token")
    return server or DEFAULT_SERVER, token
