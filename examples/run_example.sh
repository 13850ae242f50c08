#!/usr/bin/env bash
# The shipped example: a project of 8 receptors on a small synthetic HRRR-like met set, run
# with 2 workers. Running it again does no transport work (only what is missing is rerun).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$here/out/case"
if [ ! -f "$project/config.yaml" ]; then
  stilt init "$project" --example
fi
stilt check "$project"
stilt run "$project" --n-workers 2
stilt status "$project"
