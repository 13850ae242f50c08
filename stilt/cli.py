"""stilt: backward Lagrangian transport (STILT) with an open HYSPLIT-STILT-compatible core.

Usage:
  stilt <command> [<args>...]
  stilt (-h | --help)
  stilt --version

Commands:
  met        Inspect ARL meteorology files or generate synthetic met (stilt met --help).

Options:
  -h --help  Show this help.
  --version  Show the stilt version.

Run 'stilt <command> --help' for the usage of one command.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from docopt import DocoptExit, docopt

from stilt._version import get_version
from stilt.errors import StiltError


def _cmd_met(argv: list[str]) -> int:
    """Inspect ARL meteorology files or generate synthetic met.

    Usage:
      stilt met info <file>... [--records]
      stilt met synth <dir> [--start=<time>] [--hours=<n>] [--file-hours=<n>] [--nx=<n>] [--ny=<n>] [--seed=<n>]
      stilt met (-h | --help)

    Commands:
      info       Print the inventory of each ARL file: grid, projection, levels, times, variables.
      synth      Write a synthetic HRRR-like Lambert-conformal ARL met set into <dir>.

    Options:
      --records          With info: also list every record (time, level, variable, checksum).
      --start=<time>     First valid time (UTC) of the synthetic set [default: 2023-07-15T00:00].
      --hours=<n>        Number of hourly periods to generate [default: 48].
      --file-hours=<n>   Hours per file (HRRR archive files hold 6) [default: 6].
      --nx=<n>           Grid points west-east [default: 120].
      --ny=<n>           Grid points south-north [default: 100].
      --seed=<n>         Random seed of the terrain and weather perturbations [default: 1].
      -h --help          Show this help.
    """
    args = docopt(_cmd_met.__doc__ or "", argv=argv)
    if args["info"]:
        from stilt.met.arl import describe_arl

        for path in args["<file>"]:
            print(describe_arl(path, records=bool(args["--records"])))
        return 0
    from stilt.met.synthetic import generate_synthetic_met

    paths = generate_synthetic_met(
        args["<dir>"],
        start=args["--start"],
        hours=_positive_int(args["--hours"], "--hours"),
        file_hours=_positive_int(args["--file-hours"], "--file-hours"),
        nx=_positive_int(args["--nx"], "--nx"),
        ny=_positive_int(args["--ny"], "--ny"),
        seed=_positive_int(args["--seed"], "--seed", minimum=0),
    )
    for path in paths:
        print(path)
    return 0


def _positive_int(text: str, name: str, minimum: int = 1) -> int:
    """Convert a docopt option string to an int of at least ``minimum``, naming the option."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise DocoptExit(f"{name} must be a whole number, got {text!r}") from None
    if value < minimum:
        raise DocoptExit(f"{name} must be at least {minimum}, got {value}")
    return value


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "met": _cmd_met,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stilt command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        The process exit code: 0 on success, 1 when stilt reported an error, 2 on bad usage.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = docopt(__doc__ or "", argv=argv, version=get_version(), options_first=True)
        command = args["<command>"]
        handler = COMMANDS.get(command)
        if handler is None:
            print(f"stilt: unknown command {command!r}; commands: {', '.join(sorted(COMMANDS))}",
                  file=sys.stderr)
            return 2
        return handler([command, *args["<args>"]])
    except DocoptExit as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except StiltError as exc:
        print(f"stilt: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `stilt --help | head`
        return 0
    except SystemExit as exc:  # docopt prints --help/--version and exits 0
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
