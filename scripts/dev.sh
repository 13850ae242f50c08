#!/usr/bin/env bash
# Set-up and main jobs of the stilt source tree, for a fresh Debian machine with Python >= 3.10.
#
#   bash scripts/dev.sh example   build stilt and run it on the example that ships with the project
#   bash scripts/dev.sh test      build stilt and run the whole test suite (what CI runs); as
#                                 root it also installs and starts a single-node Slurm cluster
#                                 for the Slurm tests (scripts/slurm_cluster.sh)
#
# It creates .venv/ in the repository, installs the build and test requirements from PyPI,
# installs stilt into it (editable, so later Fortran or Python edits rebuild on import), and
# installs gfortran with apt-get when it is missing and we are root (otherwise it stops and says
# what to install). Set PYTHON to choose the interpreter, FC to choose the Fortran compiler.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
task="${1:-}"
case "$task" in
  example|test) ;;
  *) echo "usage: bash scripts/dev.sh (example|test)" >&2; exit 2 ;;
esac
shift || true

say() { printf '\033[1m[stilt setup]\033[0m %s\n' "$*" >&2; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    say "missing system package(s): $*. Install them (e.g. 'sudo apt-get install $*') and run this again."
    exit 1
  fi
  say "installing $* with apt-get"
  if [ -z "${STILT_APT_UPDATED:-}" ]; then apt-get update -qq; STILT_APT_UPDATED=1; fi
  export STILT_APT_UPDATED
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# 1. A Fortran compiler.
if [ -z "${FC:-}" ] && ! command -v gfortran >/dev/null 2>&1; then
  apt_install gfortran
fi

# 2. A virtual environment with the build requirements (editable installs need them present).
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv >/dev/null 2>&1; then
    rm -rf .venv
    pyver="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    apt_install "python${pyver}-venv"
    "$PYTHON" -m venv .venv
  fi
fi
vpy="$here/.venv/bin/python"
# The editable build runs meson and ninja from the venv (no build isolation): put it first on PATH.
export PATH="$here/.venv/bin:$PATH"
export PIP_DISABLE_PIP_VERSION_CHECK=1
say "installing build and test requirements into .venv"
"$vpy" -m pip install -q --upgrade pip >/dev/null
"$vpy" -m pip install -q "meson-python>=0.16" "meson>=1.4" ninja "numpy>=2.0" "pytest>=7.4"

# 3. stilt itself (editable, no build isolation: the documented meson-python developer loop).
say "building and installing stilt (Fortran core via meson + f2py)"
"$vpy" -m pip install -q --no-build-isolation --editable ".[test]" \
  -Cbuild-dir=build/cp-venv >/dev/null
"$vpy" -c "import stilt, stilt._core; print('stilt', stilt.__version__, 'with its Fortran core is installed')"

# 4. The job.
if [ "$task" = test ]; then
  # The single-node Slurm cluster of the Slurm end-to-end tests (tests/test_slurm_cluster.py):
  # installed and started when we are root, left alone otherwise (those tests then skip with
  # the reason, or fail under CI).
  if [ "$(id -u)" = 0 ]; then
    say "starting the single-node Slurm test cluster (scripts/slurm_cluster.sh)"
    export STILT_APT_UPDATED
    bash "$here/scripts/slurm_cluster.sh" start || say "the Slurm test cluster did not start"
  fi
  say "running the test suite"
  set +e
  "$here/.venv/bin/pytest" "$@"
  rc=$?
  set -e
  exit $rc
fi

say "running the shipped example"
exec bash "$here/examples/run_example.sh" "$@"
