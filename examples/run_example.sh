#!/usr/bin/env bash
# The shipped example: generate the synthetic HRRR-like met set the example project runs on and
# print its inventory. (Once `stilt run` exists this becomes a full STILT run on that met.)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/out"
mkdir -p "$out"
stilt met synth "$out/met" --hours 24
stilt met info "$out"/met/*.arl
