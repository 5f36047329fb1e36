"""The ``uqo`` command.

Each area adds its own subcommands from a module in ``uqo.cli`` that defines
``add_commands(sub, bench)``: ``sub`` holds top-level commands (``uqo demo``), ``bench`` the
benchmark commands (``uqo bench engine``). A command sets ``func(args) -> int`` as its default.
Modules are imported when the parser is built, so they must import nothing heavy at top level.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "uqo.cli.base",
    "uqo.cli.cluster",
    "uqo.cli.control",
    "uqo.cli.engine",
    "uqo.cli.engine_ops",
    "uqo.cli.gpu",
    "uqo.cli.peers",
    "uqo.cli.scheduler",
    "uqo.cli.security",
    "uqo.cli.users",
    "uqo.cli.stack",
    "uqo.cli.tune",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uqo", description="Unified Quantum Orchestrator: engine, scheduler, control plane.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench_parser = sub.add_parser("bench", help="reproducible benchmarks (JSON under bench/results/)")
    bench = bench_parser.add_subparsers(dest="bench", metavar="BENCH")
    bench_parser.set_defaults(func=lambda args: _usage(bench_parser))
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub, bench)
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
