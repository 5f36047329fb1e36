"""``uqo version`` and ``uqo backends``."""

from __future__ import annotations

import argparse
import json


def int_at_least(minimum: int):
    """An argparse type: an integer (``1e6`` accepted) of at least ``minimum``; the error names
    the offending text."""
    def parse(text: str) -> int:
        try:
            value = int(float(text))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text!r}")
        return value
    return parse


def add_commands(sub, bench) -> None:
    p = sub.add_parser("version", help="print the uqo version")
    p.set_defaults(func=_version)
    p = sub.add_parser("backends", help="which array backends work here, and why not")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-probe", action="store_true",
                   help="only check what is installed (imports nothing)")
    p.set_defaults(func=_backends)


def _version(args) -> int:
    from .. import __version__

    print(__version__)
    return 0


def _backends(args) -> int:
    from uqo.engine.backend import BackendUnavailable, available_backends, resolve_name

    table = available_backends(probe=not args.no_probe)
    try:
        auto = resolve_name("auto")
    except BackendUnavailable as exc:  # cannot happen while numpy is installed; say so if it does
        auto = f"none ({exc})"
    if args.json:
        print(json.dumps({"auto": auto, "backends": {k: {"available": ok, "detail": why}
                                                      for k, (ok, why) in table.items()}}))
        return 0
    print(f"{'backend':<8} {'available':<10} detail")
    for name, (ok, why) in table.items():
        print(f"{name:<8} {'yes' if ok else 'no':<10} {why}")
    print(f"auto -> {auto}")
    return 0
