#!/usr/bin/env bash
# Install the Debian packages of the given lists (default: deploy/local/debian-packages.txt) that
# are missing. Needs root (or sudo) only when something is missing; says what to install otherwise.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lists=("$@")
[[ ${#lists[@]} -eq 0 ]] && lists=("${here}/debian-packages.txt")
missing=()
for list in "${lists[@]}"; do
  while read -r pkg probe; do
    [[ -z "${pkg}" || "${pkg}" == \#* ]] && continue
    if [[ "${probe}" == /* ]]; then [[ -e "${probe}" ]] && continue
    else command -v "${probe}" >/dev/null 2>&1 && continue; fi
    missing+=("${pkg}")
  done < "${list}"
done
for tool in java mvn go; do
  command -v "${tool}" >/dev/null 2>&1 || { echo "moodstream needs '${tool}' (Java 17, Maven, Go 1.24+) on PATH" >&2; exit 1; }
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "installing Debian packages: ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
  echo "missing Debian packages (${missing[*]}); install them as root and retry" >&2; exit 1; fi
${sudo} apt-get update -qq
DEBIAN_FRONTEND=noninteractive ${sudo} apt-get install -y -qq --no-install-recommends "${missing[@]}"
