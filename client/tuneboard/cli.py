"""`python -m tuneboard` (or `tuneboard`): log in, see what is kept locally, sync it.

    tuneboard login [--server URL] [--token TOKEN]   store server and token (mode 0600)
    tuneboard status [DIR…]                           runs kept on disk, what is pending
    tuneboard sync [DIR…]                             upload what is pending, once

Standard library only, like the rest of the client.
"""

import argparse
import getpass
import os
import sys
import time

from . import config
from .store import SyncFailed, find_runs, sync_run

__all__ = ["main"]


def _runs(paths):
    return find_runs(paths or [config.runs_dir()])


def _when(timestamp):
    if not timestamp:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(timestamp)))


def cmd_login(args, out):
    server = args.server or config.resolve()[0]
    token = args.token
    if token == "-":  # noqa: S105 (read it from stdin)
        token = sys.stdin.readline().strip()
    elif not token:
        token = os.environ.get("TUNEBOARD_TOKEN") or getpass.getpass("Token: ").strip()
    if not token:
        print("tuneboard login: no token given", file=sys.stderr)
        return 2
    path = config.save_config({"server": server.rstrip("/"), "token": token})
    print(f"Saved the server {server} and its token in {path} (readable by you only).", file=out)
    return 0


def cmd_status(args, out):
    runs = _runs(args.dirs)
    if not runs:
        print(f"No runs kept in {', '.join(args.dirs or [config.runs_dir()])}.", file=out)
        return 0
    print(f"{'RUN':<40} {'MODE':<8} {'PENDING':>8} {'POINTS':>8} {'LINES':>8}  STATE", file=out)
    total = 0
    for run in runs:
        pending = run.pending()
        total += pending["events"]
        if pending["events"]:
            state = "pending"
        elif run.info.get("synced_at"):
            state = f"synced {_when(run.info['synced_at'])}"
        else:
            state = "nothing pending"
        print(
            f"{run.uid:<40} {run.info.get('mode', '?'):<8} {pending['events']:>8} "
            f"{pending['points']:>8} {pending['lines']:>8}  {state}",
            file=out,
        )
    print(f"{total} events pending in {len(runs)} runs.", file=out)
    return 0


def cmd_sync(args, out):
    runs = _runs(args.dirs)
    failed = 0
    sent_total = 0
    for run in runs:
        stored = config.load_config()
        server = (
            args.server
            or os.environ.get("TUNEBOARD_SERVER")
            or stored.get("server")
            or run.info.get("server")
            or config.DEFAULT_SERVER
        ).rstrip("/")
        token = os.environ.get("TUNEBOARD_TOKEN") or stored.get("token")
        if not token:
            print(
                "tuneboard sync: no token (TUNEBOARD_TOKEN or `tuneboard login`)",
                file=sys.stderr,
            )
            return 2
        try:
            sent = sync_run(run, server=server, token=token, timeout=args.timeout)
        except SyncFailed as exc:
            failed += 1
            print(f"{run.uid}: not synced: {exc}", file=sys.stderr)
            continue
        sent_total += sent
        if sent:
            print(f"{run.uid}: {sent} events uploaded to {server}/job/{run.uid}", file=out)
        else:
            print(f"{run.uid}: nothing to upload", file=out)
    print(f"{sent_total} events uploaded from {len(runs) - failed} of {len(runs)} runs.", file=out)
    return 1 if failed else 0


def parser():
    main = argparse.ArgumentParser(
        prog="tuneboard",
        description="Tuneboard's client: store your login, see and upload runs kept on disk.",
    )
    commands = main.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    login = commands.add_parser(
        "login",
        help="store a server and token in your config file",
        description=(
            "Store the server URL and an API token in your config file "
            f"({config.config_path()}), readable by you only (mode 0600), so scripts "
            "need no TUNEBOARD_SERVER/TUNEBOARD_TOKEN. Without --token, the token is "
            "read from TUNEBOARD_TOKEN or asked for."
        ),
    )
    login.add_argument("--server", help="the server's URL (default: the current one)")
    login.add_argument("--token", help="the API token ('-': read it from stdin)")
    login.set_defaults(handler=cmd_login)

    status = commands.add_parser(
        "status",
        help="show the runs kept on disk and what each has pending",
        description=(
            "List the runs kept on disk (offline runs, and runs whose last events the "
            "server did not take) with the events each still has to upload."
        ),
    )
    status.add_argument(
        "dirs", nargs="*", metavar="DIR", help=f"run directories (default: {config.runs_dir()})"
    )
    status.set_defaults(handler=cmd_status)

    sync = commands.add_parser(
        "sync",
        help="upload the events kept on disk",
        description=(
            "Upload the pending events of runs kept on disk, keeping their original times. "
            "What the server accepted is recorded as it goes, so running sync again (or "
            "after an interruption) never sends an event twice. The server is --server, "
            "else TUNEBOARD_SERVER, else your login, else the one the run reported to."
        ),
    )
    sync.add_argument(
        "dirs", nargs="*", metavar="DIR", help=f"run directories (default: {config.runs_dir()})"
    )
    sync.add_argument("--server", help="upload to this server")
    sync.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="give a run up after the server answers nothing for this long (seconds)",
    )
    sync.set_defaults(handler=cmd_sync)
    return main


def main(argv=None, out=None):
    args = parser().parse_args(argv)
    return args.handler(args, out or sys.stdout)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
