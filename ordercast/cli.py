"""The ``ordercast`` command line: a thin layer over ``training/`` and ``api/``.

Exit codes, the same for every command:
0 success, 2 bad input or configuration (a message, no traceback),
1 unexpected failure (traceback only with ``--debug``); ``train`` adds
3 (trained, not promoted) and 4 (another training of the same kind holds the lock);
``accuracy --check`` adds 5 (the recent WAPE at some lag drifted beyond its backtest
expectation: time to retrain).
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

import typer

from forecasting.errors import OrdercastError
from ordercast.lazy_commands import LazyCommands
from ordercast.logs import configure_logging, say_error

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

app = typer.Typer(
    name="ordercast",
    cls=LazyCommands,  # each command's module is imported when that command runs
    help=(
        "Demand, capacity and at-risk order forecasting from order history.\n\n"
        "Start with `ordercast generate --out data/orders.csv.gz` for a synthetic history, "
        "`ordercast validate` to check your own, then `ordercast train all` and "
        "`ordercast serve`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _global_options(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
    log_json: bool = typer.Option(False, "--log-json", help="Write logs as JSON lines."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors."),
) -> None:
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    configure_logging(level=level, json_lines=log_json)


# MLflow reads these from the environment only. Its defaults (120 s a request, 7 retries
# with backoff) leave `train`, `models list` or `serve` waiting minutes on a registry that is
# down; ours fail within about half a minute, saying which store. No progress bars on stderr.
# No loggers of its own either: on import MLflow gives its loggers a stderr handler, and the
# commands import it after our logging is set up (not for `--help`), so its lines would
# bypass our format (plain text among the JSON lines of --log-json).
MLFLOW_PROCESS_DEFAULTS = {
    "MLFLOW_CONFIGURE_LOGGING": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns (and exits with) the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None:  # the whole process is ours: set MLflow's process-wide switches once
        for name, value in MLFLOW_PROCESS_DEFAULTS.items():
            os.environ.setdefault(name, value)  # a value the user exported wins
    debug = "--debug" in args
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="ordercast", standalone_mode=False)
    except OrdercastError as exc:
        if debug:
            traceback.print_exc()
        say_error(f"error: {exc}")
        code = EXIT_BAD_INPUT
    except typer.Abort:
        say_error("aborted")
        code = EXIT_FAILURE
    except typer.TyperException as exc:  # usage errors: unknown command, bad option value
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            say_error(f"error: {exc}")
        code = getattr(exc, "exit_code", EXIT_BAD_INPUT) or EXIT_BAD_INPUT
    except Exception as exc:  # the last line of defence: exit 1 with a readable line
        if debug:
            traceback.print_exc()
        else:
            say_error(
                f"unexpected failure: {type(exc).__name__}: {exc} (run with --debug for the "
                "traceback)"
            )
        code = EXIT_FAILURE
    code = int(code or 0) if not isinstance(code, int) else code
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
