"""The `ftwatch` console script: run, demo, simulate, events export, rules check|backtest
(SPEC §2)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any, cast

import structlog

from service import config_check
from service.cli_help import epilog
from service.logsetup import configure_logging
from service.settings import Settings, environment

SIM_FLAVORS = ("openai", "azure", "azure-v1")


def _command(sub: Any, name: str, text: str, env: str | None = None) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with the environment variables it reads."""
    return cast(
        argparse.ArgumentParser,
        sub.add_parser(
            name,
            help=text,
            description=text,
            epilog=epilog(env or name),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        ),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ftwatch",
        description=__doc__,
        epilog="`ftwatch COMMAND --help` lists the environment variables COMMAND reads.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = _command(sub, "run", "run the service")
    run.add_argument(
        "--role",
        choices=["all", "api", "poller", "worker"],
        default="all",
        help="all: everything in one process (default); api, poller, worker: one part "
        "each, for a deployment that scales them apart",
    )
    _command(sub, "demo", "run the scripted demo on an embedded Redis and simulator")
    sim = _command(sub, "simulate", "run the fake fine-tuning platform alone")
    sim.add_argument("--port", type=int, default=8081)
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--scenario", default=None, help="scenario file (YAML or JSON)")
    # Spelled out (not imported from simulator.flavors) so `rules` need not load aiohttp.
    sim.add_argument("--flavor", choices=SIM_FLAVORS, default="openai", help="vendor API to fake")
    status = _command(sub, "status", "what a running ftwatch watches: jobs, rules, actions")
    status.add_argument(
        "--url", help="the service's base URL (default: http://127.0.0.1:$FTWATCH_PORT)"
    )
    events = sub.add_parser("events", help="recorded events")
    events_sub = events.add_subparsers(dest="events_command", required=True)
    export = _command(
        events_sub,
        "export",
        "write recorded events as JSON lines, oldest first, "
        "as `rules backtest --events` reads them",
    )
    export.add_argument("jobs", nargs="*", metavar="JOB", help="provider:id or id (default: all)")
    export.add_argument("--since", help="30m, 2h, 1d, an ISO-8601 time or unix seconds")
    rules = sub.add_parser("rules", help="check or backtest a rules file")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_sub.add_parser("check", help="validate a rules file")
    check.add_argument("file")
    backtest = rules_sub.add_parser("backtest", help="replay recorded events through rules")
    backtest.add_argument("file")
    backtest.add_argument(
        "--events", required=True, help="events as JSON lines (`ftwatch events export`)"
    )
    return parser


def load_settings() -> Settings:
    """Read the environment once; ConfigError naming each bad variable."""
    return config_check.read_settings()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _main(args)
    except BrokenPipeError:
        # The reader went away (`… | head`): not an error. Point stdout at /dev/null so
        # the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(args: argparse.Namespace) -> int:
    # Commands that read files or an API, not the service's whole configuration.
    tools = {"rules": _rules, "events": _export, "status": _status}
    if args.command in tools:
        return tools[args.command](args)
    return _service(args)


def _service(args: argparse.Namespace) -> int:
    """run, demo and simulate: the settings (and for run the rules file) checked first."""
    try:
        settings, rules = config_check.startup_config(args.command)
    except config_check.ConfigError as exc:
        return config_check.refuse(exc.problems, sys.stderr, environment())
    # The demo prints its own story on stdout; its log says only what went wrong.
    quiet = args.command == "demo" and settings.log_level == "info"
    configure_logging(settings.log_format, "warning" if quiet else settings.log_level)
    _warn_unknown_variables()
    if args.command == "run":
        from service.runtime import run_service  # noqa: PLC0415 - keep `rules` fast

        return asyncio.run(run_service(settings, args.role, rules))
    if args.command == "demo":
        from service.demo import run_demo  # noqa: PLC0415

        return asyncio.run(run_demo(settings))
    return asyncio.run(_simulate(args))


def _startup_failed(message: str, code: int) -> int:
    """One line on stderr, no traceback: what stopped the simulator from starting."""
    print(f"ftwatch simulate: {message}", file=sys.stderr)
    return code


def _os_reason(exc: OSError) -> str:
    """`Address already in use` rather than asyncio's long wrapped wording."""
    if isinstance(exc.errno, int) and exc.errno > 0:
        return os.strerror(exc.errno)
    return exc.strerror or str(exc)


async def _simulate(args: argparse.Namespace) -> int:
    """Serve the simulator until SIGTERM/SIGINT; a bad scenario exits 2, a busy port 1."""
    from service.serve import stop_on_signals  # noqa: PLC0415
    from simulator.app import start_simulator  # noqa: PLC0415
    from simulator.scenario import ScenarioError  # noqa: PLC0415

    stop = asyncio.Event()
    stop_on_signals(stop)
    try:
        runner = await start_simulator(args.port, args.scenario, args.host, flavor=args.flavor)
    except ScenarioError as exc:  # a configuration error (SPEC §3): every problem, one line
        return _startup_failed("; ".join(str(exc).splitlines()), 2)
    except OSError as exc:
        return _startup_failed(f"cannot listen on {args.host}:{args.port}: {_os_reason(exc)}", 1)
    await stop.wait()
    await runner.cleanup()
    return 0


def _warn_unknown_variables() -> None:
    """One warning per FTWATCH_* variable nothing reads: a typo must not pass unnoticed."""
    log = structlog.get_logger("service.cli")
    for name, closest in config_check.unknown_variables(environment()):
        message = config_check.unknown_variable_line(name, closest)
        log.warning("unknown_setting", variable=name, did_you_mean=closest, message=message)


def _status(args: argparse.Namespace) -> int:
    """`status`: exit 1 with one line when the API cannot be read."""
    from service import status  # noqa: PLC0415

    env = environment()
    url = args.url or f"http://127.0.0.1:{env.get('FTWATCH_PORT') or 8080}"
    try:
        snapshot = status.read(url, env.get("FTWATCH_API_TOKEN") or None)
    except status.StatusError as exc:
        print(f"ftwatch status: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(status.render(snapshot))
    return 0


def _export(args: argparse.Namespace) -> int:
    """`events export`: exit 2 for a bad --since or setting, like any configuration error."""
    from service.events_export import run_export, selection  # noqa: PLC0415

    try:
        chosen = selection(args.jobs, args.since)
        settings = config_check.read_settings()
    except ValueError as exc:
        print(f"ftwatch events export: {exc}", file=sys.stderr)
        return 2
    except config_check.ConfigError as exc:
        return config_check.refuse(exc.problems, sys.stderr, environment())
    configure_logging(settings.log_format, "warning")
    written = asyncio.run(run_export(settings, chosen, sys.stdout))
    print(f"ftwatch events export: {written} events", file=sys.stderr)
    return 0


def _rules(args: argparse.Namespace) -> int:
    from workers.rules.cli import backtest_command, check_command  # noqa: PLC0415

    if args.rules_command == "check":
        return check_command(args.file, sys.stdout)
    return backtest_command(args.file, args.events, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
