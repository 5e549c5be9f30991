"""``imburse-emulator`` (also ``python -m pulumi_imburse.emulator``): run the local Imburse emulator.

::

    imburse-emulator serve --host 127.0.0.1 --port 0 --db PATH --credentials-file PATH \\
        [--latency-ms N] [--token-ttl SECONDS] [--routes default|legacy] [--log-level LEVEL] \\
        [--rate-limit REQUESTS_PER_SECOND [--rate-burst N]]

Once listening it writes ``{"baseUrl", "accountId", "publicKey", "privateKey"}`` to the credentials
file (mode 0600), then prints one line to stderr (no secret in it)::

    imburse-emulator: serving http://127.0.0.1:PORT (db PATH, credentials PATH)

A restart on the same ``--db`` keeps every account, tenant and key. Without the ``emulator`` extra it exits
with status 1 and a line saying how to install it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .extra import MissingExtraError

ROUTE_TABLES = ("default", "legacy")


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not 0 < value <= 100_000:
        raise argparse.ArgumentTypeError("must be a number above 0 and at most 100000")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be from 0 to 65535")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(prog="imburse-emulator",
                                     description="A local, Imburse-compatible key-management API.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the emulator until SIGTERM/SIGINT")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=0, help="TCP port; 0 picks a free one (default 0)")
    serve.add_argument("--db", required=True, help="SQLite file holding the emulator's state")
    serve.add_argument("--credentials-file", required=True,
                       help="where to write the account API key and base URL once listening (mode 0600)")
    serve.add_argument("--latency-ms", type=_non_negative, default=0.0,
                       help="latency added to every API request (default 0)")
    serve.add_argument("--token-ttl", type=_positive_int, default=3600,
                       help="bearer token lifetime in seconds (default 3600)")
    serve.add_argument("--routes", choices=ROUTE_TABLES, default="default",
                       help="API generation to serve (default: the contract's current routes)")
    serve.add_argument("--rate-limit", type=_positive, default=None, metavar="REQUESTS_PER_SECOND",
                       help="per-account rate limit: a token bucket; a request finding it empty gets 429 with "
                            "Retry-After (default: no limit)")
    serve.add_argument("--rate-burst", type=_positive_int, default=None, metavar="N",
                       help="the bucket's size (default: one second's worth of --rate-limit)")
    serve.add_argument("--log-level", default="warning",
                       choices=("critical", "error", "warning", "info", "debug"), help="default warning")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``imburse-emulator`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="imburse-emulator %(levelname)s %(name)s: %(message)s")
    from ..routes import DEFAULT_ROUTES, LEGACY_ROUTES

    if args.rate_burst is not None and args.rate_limit is None:
        build_parser().error("--rate-burst needs --rate-limit")
    try:
        from .models import RateLimit
        from .server import serve
    except MissingExtraError as e:  # one line saying what to install, not a traceback
        print(f"imburse-emulator: {e}", file=sys.stderr)
        return 1

    return serve(host=args.host, port=args.port, db=args.db, credentials_file=args.credentials_file,
                 latency_ms=args.latency_ms, token_ttl=args.token_ttl,
                 routes=LEGACY_ROUTES if args.routes == "legacy" else DEFAULT_ROUTES,
                 log_level=args.log_level,
                 rate_limit=None if args.rate_limit is None else RateLimit.of(args.rate_limit, args.rate_burst))


if __name__ == "__main__":
    sys.exit(main())
