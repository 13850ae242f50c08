"""stilt: backward Lagrangian transport (STILT) with an open HYSPLIT-STILT-compatible core.

Usage:
  stilt <command> [<args>...]
  stilt (-h | --help)
  stilt --version

Commands:
  init       Create a project folder (starter or runnable example).
  check      Validate a project (config, receptors, met coverage) and print the plan.
  run        Run every simulation of a project that is not complete.
  register   Register simulations to run later (by pull workers).
  pull       Work as a pull worker: run registered simulations until none is left.
  serve      A long-lived pull worker: follow new registrations until stopped.
  status     Counts by state and failures grouped by reason.
  index      Maintain the output index (stilt index rebuild DIR).
  plot       Draw a footprint map (one simulation or the project mean) to a PNG.
  met        Inspect ARL meteorology files or generate synthetic met (stilt met --help).

Options:
  -h --help  Show this help.
  --version  Show the stilt version.

Run 'stilt <command> --help' for the usage of one command.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from docopt import DocoptExit, docopt

from stilt._paths import checked_if_inside, inside
from stilt._verify import filesystem_reason, os_error_detail
from stilt._version import get_version
from stilt.errors import MissingDependencyError, StiltError
from stilt.states import State

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from stilt.executors.base import RunReport
    from stilt.model import Model


def _cmd_met(argv: list[str]) -> int:
    """Inspect ARL meteorology files or generate synthetic met.

    Usage:
      stilt met info <file>... [--records]
      stilt met synth <dir> [--start=<time>] [--hours=<n>] [--file-hours=<n>] [--nx=<n>] [--ny=<n>] [--seed=<n>]
          [--vertical=<name>] [--surface=<name>] [--center=<lat,lon>] [--sea-east-of=<lon>]
      stilt met (-h | --help)

    Commands:
      info       Print the inventory of each ARL file: grid, projection, levels, times, variables.
      synth      Write a synthetic Lambert-conformal ARL met set into <dir>: HRRR-like by
                 default, or the levels and fields of another met family.

    Options:
      --records            With info: also list every record (time, level, variable,
                           checksum).
      --start=<time>       First valid time (UTC) of the synthetic set
                           [default: 2023-07-15T00:00].
      --hours=<n>          Number of hourly periods to generate [default: 48].
      --file-hours=<n>     Hours per file (HRRR archive files hold 6) [default: 6].
      --nx=<n>             Grid points west-east [default: 120].
      --ny=<n>             Grid points south-north [default: 100].
      --seed=<n>           Random seed of the terrain and weather perturbations [default: 1].
      --vertical=<name>    Vertical coordinate (ARL system): sigma (1, PTOP in RESERVED),
                           pressure (2, GDAS levels with HGTS), height (3, terrain-
                           following metres, with PRES), hybrid (4, offset+sigma) or wrf
                           (5, WRF eta with PRES) [default: sigma].
      --surface=<name>     Field set of a met family: hrrr, gdas, nam, ngm or wrf
                           [default: hrrr].
      --center=<lat,lon>   Grid centre in degrees, latitude 25 to 65; the weather moves
                           with it [default: 40,-101.5].
      --sea-east-of=<lon>  Sea east of this longitude: flat, constant sea-surface
                           temperature, marine boundary layer (default: no sea).
      -h --help            Show this help.
    """
    args = docopt(_cmd_met.__doc__ or "", argv=argv)
    if args["info"]:
        from stilt.met.arl import describe_arl

        for path in args["<file>"]:
            print(describe_arl(path, records=bool(args["--records"])))
        return 0
    from stilt.met.synthetic import generate_synthetic_met

    center = _lat_lon_option(args["--center"], "--center")
    paths = generate_synthetic_met(
        args["<dir>"],
        start=args["--start"],
        hours=_positive_int(args["--hours"], "--hours"),
        file_hours=_positive_int(args["--file-hours"], "--file-hours"),
        nx=_positive_int(args["--nx"], "--nx"),
        ny=_positive_int(args["--ny"], "--ny"),
        seed=_positive_int(args["--seed"], "--seed", minimum=0),
        vertical=args["--vertical"],
        surface=args["--surface"],
        center_lat=center[0],
        center_lon=center[1],
        sea_east_of=(None if args["--sea-east-of"] is None
                     else _float_option(args["--sea-east-of"], "--sea-east-of")),
    )
    for path in paths:
        print(path)
    return 0


def _float_option(text: str, name: str) -> float:
    """Convert a docopt option string to a finite float, naming the option."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise DocoptExit(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise DocoptExit(f"{name} must be finite, got {text!r}")
    return value


def _lat_lon_option(text: str, name: str) -> tuple[float, float]:
    """Convert ``LAT,LON`` to two floats, naming the option."""
    parts = text.split(",")
    if len(parts) != 2:
        raise DocoptExit(f"{name} must be LAT,LON (e.g. 40,-101.5), got {text!r}")
    return _float_option(parts[0], name), _float_option(parts[1], name)


def _positive_int(text: str, name: str, minimum: int = 1) -> int:
    """Convert a docopt option string to an int of at least ``minimum``, naming the option."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise DocoptExit(f"{name} must be a whole number, got {text!r}") from None
    if value < minimum:
        raise DocoptExit(f"{name} must be at least {minimum}, got {value}")
    return value


def _cmd_init(argv: list[str]) -> int:
    """Create a project folder with a commented config.yaml and a receptors.csv.

    Usage:
      stilt init <dir> [--example]
      stilt init (-h | --help)

    Options:
      --example   Write a complete runnable example: 8 receptors on a small synthetic met set
                  (generated into <dir>/met). Run it with 'stilt run <dir>'.
      -h --help   Show this help.

    Existing config.yaml or receptors.csv files are never overwritten.
    """
    args = docopt(_cmd_init.__doc__ or "", argv=argv)
    from stilt.project import init_project

    for path in init_project(args["<dir>"], example=bool(args["--example"])):
        print(path)
    return 0


def _cmd_check(argv: list[str]) -> int:
    """Validate a project and print the plan; runs nothing.

    Usage:
      stilt check <dir> [--met]
      stilt check (-h | --help)

    Options:
      --met    Also read every record of every met file the simulations still to run
               need, whole, and check its values and its checksum (each file once; this
               reads all of those files, with a line per file on stderr).

    Checks config.yaml (unknown keys, values, footprint grid budget), receptors.csv, and that
    met files cover every simulation still to run. Exit code 0 when no problem was found.
    """
    args = docopt(_cmd_check.__doc__ or "", argv=argv)
    from stilt.project import check_project

    def progress(done: int, total: int, path: Path) -> None:
        print(f"checking met file {done + 1}/{total}: {path}", file=sys.stderr, flush=True)

    result = check_project(args["<dir>"], met=bool(args["--met"]), progress=progress)
    print(result.report())
    return 0 if result.ok else 1


def _model_overrides(args: dict) -> dict:
    out: dict = {}
    if args.get("--n-workers") is not None:
        out["n_workers"] = _positive_int(args["--n-workers"], "--n-workers")
    if args.get("--backend") is not None:
        if args["--backend"] not in ("local", "slurm"):
            raise DocoptExit(f"--backend must be local or slurm, got {args['--backend']!r}")
        out["backend"] = args["--backend"]
    if args.get("--timeout") is not None:
        out["timeout"] = _float_option(args["--timeout"], "--timeout")
        if out["timeout"] <= 0:
            raise DocoptExit(f"--timeout must be more than 0 seconds, got {args['--timeout']}")
    return out


def _finish(report: RunReport, interrupted_code: int = 130) -> int:
    print(report.summary())
    if report.interrupted:
        return interrupted_code
    return 0 if report.ok else 1


def _progress_stream() -> TextIO | None:
    return sys.stderr if sys.stderr.isatty() else None


def _cmd_run(argv: list[str]) -> int:
    """Run every simulation of a project that is not complete: here, or as one Slurm job array.

    Usage:
      stilt run <dir> [--backend=<name>] [--n-workers=<n>] [--timeout=<s>] [--no-skip]
                      [--retry-failed] [--scene-id=<id>] [--wait] [--mem=<m>] [--time=<t>]
      stilt run (-h | --help)

    Options:
      --backend=<name>   Execution backend: local or slurm [overrides config.yaml].
      --n-workers=<n>    Processes running simulations at once [overrides config.yaml].
      --timeout=<s>      Seconds one simulation may take [overrides config.yaml].
      --no-skip          Recompute everything, even outputs that are complete.
      --retry-failed     Also rerun simulations that failed before (with slurm: submit only
                         the failed and missing ones).
      --scene-id=<id>    Tag the registered simulations with a scene id.
      --wait             Slurm: wait until the job array has ended (polls every
                         execution.slurm.poll_seconds, at least 30 s), then report.
      --mem=<m>          Slurm: memory per array task for this submission (e.g. 8G).
      --time=<t>         Slurm: time limit per array task for this submission (e.g. 02:00:00).
      -h --help          Show this help.

    With the local backend the run blocks until done. With the slurm backend it validates,
    writes the task inputs, calls sbatch once and prints the job id (unless --wait).

    At the end of a local run it prints where the outputs are and, with 'plots: true' in
    config.yaml (the example project has it), draws the mean footprint map of each footprint
    and prints its path (needs matplotlib: pip install 'stilt[plot]').

    Exit code 0 when every simulation is complete (slurm without --wait: when the job was
    submitted or nothing was left to do); 1 when some failed (summary printed), 130 when
    interrupted. config.yaml is never modified.
    """
    args = docopt(_cmd_run.__doc__ or "", argv=argv)
    from stilt.model import Model

    over = _model_overrides(args)  # usage errors before the project is read
    model = Model(args["<dir>"])
    try:
        backend = over.get("backend", model.config.execution.backend)
        slurm = {k: args[f"--{k}"] for k in ("mem", "time") if args[f"--{k}"] is not None}
        if backend != "slurm" and (slurm or args["--wait"]):
            raise DocoptExit("--wait, --mem and --time apply to the slurm backend "
                             "(--backend=slurm or execution.backend: slurm)")
        report = model.run(skip_existing=False if args["--no-skip"] else None,
                           retry_failed=bool(args["--retry-failed"]),
                           scene_id=args["--scene-id"],
                           progress=_progress_stream() if backend != "slurm" else sys.stderr,
                           wait=bool(args["--wait"]), slurm=slurm or None,
                           **over)  # type: ignore
        if backend == "slurm":
            return _finish_slurm(report, args["<dir>"], bool(args["--wait"]))
        code = _finish(report)
        if not report.interrupted:
            print(_where_outputs_are(model))
    finally:
        model.close()
    return code


def _finish_slurm(report: RunReport, project: str, waited: bool) -> int:
    """What 'stilt run --backend slurm' prints, and its exit code."""
    job_id = report.job_id
    if not waited:
        if job_id is None:
            print(report.summary())
            print("nothing to submit")
            return 0 if not report.failed else 1
        print(f"submitted job array {job_id} ({len(report.submitted)} simulation(s), "
              f"run folder {report.run_dir}); follow it with 'stilt status {project}'")
        return 0
    if job_id is not None:
        print(f"job array {job_id} ended: " + ", ".join(
            f"task {t} {s}" for t, s in sorted(report.task_states.items())))
    return _finish(report)


def _where_outputs_are(model: Model) -> str:
    """The closing lines of 'stilt run': output folders, and the maps (drawn if configured)."""
    out = model.output
    sims = out / "simulations"
    lines = [f"outputs:      {out}",
             f"trajectories: {sims / 'particles'}",
             f"footprints:   {sims / 'footprints'}"]
    names = list(model.config.footprints)
    complete = model.simulations.ids(State.COMPLETE)
    if not names or not complete:
        return "\n".join(lines)
    if not model.config.plots:
        lines.append(f"pictures:     none drawn (set 'plots: true' in config.yaml, or run "
                     f"'stilt plot {model.project}')")
        return "\n".join(lines)
    for name in names:
        try:
            path = model.footprints[name].plot(
                path=inside(out, "plots", f"summary_{name}.png", what="plot"))
        except MissingDependencyError as exc:
            lines.append(f"pictures:     none drawn: {exc}")
            break
        except StiltError as exc:  # e.g. every footprint file unreadable: the run stands
            lines.append(f"picture:      {name} not drawn: {exc}")
            continue
        lines.append(f"picture:      {path}")
    return "\n".join(lines)


def _cmd_register(argv: list[str]) -> int:
    """Register simulations (pending) to be run later by 'stilt pull' or 'stilt serve'.

    Usage:
      stilt register <dir> [--receptors=<csv>] [--scene-id=<id>]
      stilt register (-h | --help)

    Options:
      --receptors=<csv>  Receptor table to register [default: the project's receptors.csv].
      --scene-id=<id>    Tag these simulations (status and pull can select them).
      -h --help          Show this help.
    """
    args = docopt(_cmd_register.__doc__ or "", argv=argv)
    from stilt.model import Model

    model = Model(args["<dir>"])
    receptors = args["--receptors"]
    if receptors == "the project's receptors.csv":
        receptors = None
    ids = model.register_pending(receptors=receptors, scene_id=args["--scene-id"])
    print(f"{len(ids)} simulation(s) registered")
    return 0


def _cmd_pull(argv: list[str]) -> int:
    """Work as a pull worker: claim and run registered simulations until none is left.

    Usage:
      stilt pull <dir> [--follow] [--n-workers=<n>] [--timeout=<s>] [--scene-id=<id>] [--files]
      stilt pull (-h | --help)

    Options:
      --follow          Keep waiting for new registrations until stopped (Ctrl-C, SIGTERM).
      --files           Coordinate through claim files and status records, not the SQLite
                        index (on by itself inside a Slurm job; one process per worker;
                        'stilt status' folds the results into the index).
      --n-workers=<n>   Processes running simulations at once [overrides config.yaml].
      --timeout=<s>     Seconds one simulation may take [overrides config.yaml].
      --scene-id=<id>   Only simulations of this scene.
      -h --help         Show this help.
    """
    args = docopt(_cmd_pull.__doc__ or "", argv=argv)
    return _pull(args, follow=bool(args["--follow"]))


def _cmd_serve(argv: list[str]) -> int:
    """A long-lived worker: run registered simulations and follow new ones until stopped.

    Usage:
      stilt serve <dir> [--n-workers=<n>] [--timeout=<s>] [--scene-id=<id>] [--poll=<s>] [--files]
      stilt serve (-h | --help)

    Options:
      --files           Coordinate through claim files and status records, not the SQLite
                        index (on by itself inside a Slurm job; one process per worker).
      --n-workers=<n>   Processes running simulations at once [overrides config.yaml].
      --timeout=<s>     Seconds one simulation may take [overrides config.yaml].
      --scene-id=<id>   Only simulations of this scene.
      --poll=<s>        Seconds between looks for new work [default: 2].
      -h --help         Show this help.
    """
    args = docopt(_cmd_serve.__doc__ or "", argv=argv)
    return _pull(args, follow=True)


def _pull(args: dict, follow: bool) -> int:
    from stilt.model import Model

    over = _model_overrides(args)
    poll = float(args.get("--poll") or 2.0)
    model = Model(args["<dir>"])
    report = model.pull_simulations(follow=follow, n_workers=over.get("n_workers"),
                                    timeout=over.get("timeout"), scene_id=args["--scene-id"],
                                    poll=poll, progress=_progress_stream(),
                                    files=True if args.get("--files") else None)  # type: ignore
    print(report.summary())
    if report.interrupted and not follow:
        return 130
    return 1 if report.failed else 0


def _cmd_status(argv: list[str]) -> int:
    """Show how many simulations are in each state, and failures grouped by reason.

    Usage:
      stilt status <dir> [--scene-id=<id>]
      stilt status (-h | --help)

    Options:
      --scene-id=<id>   Only simulations of this scene.
      -h --help         Show this help.
    """
    args = docopt(_cmd_status.__doc__ or "", argv=argv)
    from stilt.model import Model

    model = Model(args["<dir>"])
    try:  # the index is never created, renamed or repaired here
        print(model.status(args["--scene-id"], readonly=True))
    finally:
        model.close()
    return 0


def _cmd_index(argv: list[str]) -> int:
    """Maintain the output index.

    Usage:
      stilt index rebuild <dir>
      stilt index (-h | --help)

    Commands:
      rebuild   Rebuild the index from the simulation folders on disk (status records and
                output files are the truth; a lost or corrupt index loses nothing).
    """
    args = docopt(_cmd_index.__doc__ or "", argv=argv)
    from stilt.model import Model

    model = Model(args["<dir>"])
    problems: list[str] = []
    n = model.rebuild_index(problems)
    counts = model.index.counts()
    for problem in problems:
        print(problem)
    print(f"index rebuilt with {n} simulation(s) from disk: "
          + ", ".join(f"{k} {state}" for state, k in counts.items())
          + (f"; {len(problems)} folder(s) noted above" if problems else ""))
    return 0


def _cmd_plot(argv: list[str]) -> int:
    """Draw a footprint map to a PNG (needs matplotlib: pip install 'stilt[plot]').

    Usage:
      stilt plot <dir> [--sim=<id>] [--footprint=<name>] [--summary] [--out=<png>]
                       [--no-particles] [--no-terrain]
      stilt plot (-h | --help)

    Options:
      --sim=<id>          Plot this simulation's footprint, with its particle paths.
      --footprint=<name>  Footprint name [default: the first configured].
      --summary           Plot the mean footprint over every complete simulation (the
                          default when --sim is not given).
      --out=<png>         Where to write the PNG [default: <output>/plots/<sim or
                          summary>_<footprint>.png].
      --no-particles      With --sim: leave out the particle paths.
      --no-terrain        Leave out the met terrain drawn underneath (it is drawn when the
                          met file the simulation read is still there).
      -h --help           Show this help.

    Prints the path of the PNG written.
    """
    args = docopt(_cmd_plot.__doc__ or "", argv=argv)
    from stilt.model import Model

    if args["--sim"] is not None and args["--summary"]:
        raise DocoptExit("--sim and --summary exclude each other")
    model = Model(args["<dir>"])
    try:
        model.open_index_readonly()  # plotting never creates, renames or repairs the index
        name = args["--footprint"]
        name = model.footprints.resolve(None if name == "the first configured" else name)
        out = args["--out"]
        if out is not None and out.startswith("<output>/"):
            out = None
        sim_id = args["--sim"]
        terrain = not args["--no-terrain"]
        default = f"{sim_id}_{name}.png" if sim_id is not None else f"summary_{name}.png"
        out = (checked_if_inside(model.output, out, what="plot") if out
               else inside(model.output, "plots", default, what="plot"))
        written = model.footprints[name].plot(sim_id, particles=not args["--no-particles"],
                                              terrain=terrain, path=out)
    finally:
        model.close()
    print(written)
    return 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "init": _cmd_init,
    "check": _cmd_check,
    "run": _cmd_run,
    "register": _cmd_register,
    "pull": _cmd_pull,
    "serve": _cmd_serve,
    "status": _cmd_status,
    "index": _cmd_index,
    "plot": _cmd_plot,
    "met": _cmd_met,
}


def one_blas_thread() -> None:
    """Let numpy's OpenBLAS start no threads of its own in this process and its children,
    unless the user chose a number (``OPENBLAS_NUM_THREADS``).

    stilt makes no BLAS calls; OpenBLAS, as numpy loads it, starts a thread per core that
    spins for a while before it sleeps: CPU time taken from every stilt process (0.05-0.1 s on
    2 cores, more on a many-core login node). Only effective before numpy is first imported,
    as at the start of the command line; a program that imports stilt keeps its own setting.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


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
    one_blas_thread()  # before anything imports numpy
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
    except OSError as exc:  # the file system's refusal where no writer named it: one line
        why = filesystem_reason(exc)
        if why is None:
            raise
        print(f"stilt: error: {why}: {exc.filename or 'a write failed'} "
              f"({os_error_detail(exc)})", file=sys.stderr)
        return 1
    except SystemExit as exc:  # docopt prints --help/--version and exits 0
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
