# Shared by scripts/demo and scripts/test: installing what is missing and
# building. Sourced, not run.

STRATA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Packages for building and running Strata.
STRATA_BUILD_PKGS="build-essential cmake ninja-build pkg-config python3 librdkafka-dev
  libavro-dev libjansson-dev libmicrohttpd-dev uthash-dev libcurl4-openssl-dev"
# Extra packages for the test suite: cmocka, clang + its libFuzzer runtime,
# valgrind, Python venv for the cross-language vectors, Java and Maven for
# the local Apache Kafka broker, systemd (systemd-analyze) and curl for the
# deploy/systemd units.
STRATA_TEST_PKGS="libcmocka-dev prometheus clang valgrind clang-format
  python3 python3-venv
  openjdk-17-jdk-headless maven systemd curl"

# The libFuzzer runtime is in a differently named package per release.
fuzzer_runtime_pkg() {
  local p
  for p in libclang-rt-14-dev libclang-rt-dev libclang-common-14-dev; do
    if apt-cache show "$p" >/dev/null 2>&1; then echo "$p"; return; fi
  done
}

# install_pkgs PKG...: apt-get installs whichever of PKG is not installed.
install_pkgs() {
  local missing=() p sudo=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  say "installing ${missing[*]}"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

install_build_deps() {
  # shellcheck disable=SC2086
  install_pkgs $STRATA_BUILD_PKGS
}

install_test_deps() {
  local rt
  install_build_deps
  # shellcheck disable=SC2086
  install_pkgs $STRATA_TEST_PKGS
  command -v apt-cache >/dev/null && rt=$(fuzzer_runtime_pkg) && [ -n "$rt" ] && install_pkgs "$rt"
  return 0
}

# cache_conflict DIR: prints why the CMake cache in DIR cannot be re-used for
# a Ninja build of this source tree with the compiler ${CC:-cc}, or nothing.
# cmake itself refuses another generator ("does not match the generator used
# previously") and another source tree, and keeps the cached compiler
# whatever CC says.
cache_conflict() {
  local cache=$1/CMakeCache.txt gen home cc want
  [ -f "$cache" ] || return 0
  gen=$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$cache")
  home=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$cache")
  cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$cache")
  want=$(command -v "${CC:-cc}" || true)
  if [ "$gen" != Ninja ]; then
    echo "it was configured with the generator '$gen', not Ninja"
  elif [ "$(cd "$home" 2>/dev/null && pwd -P)" != "$(cd "$STRATA_ROOT" && pwd -P)" ]; then
    echo "it was configured for the source tree $home, not $STRATA_ROOT"
  elif [ -n "$cc" ] && [ -n "$want" ] && [ "$(readlink -f "$cc")" != "$(readlink -f "$want")" ]; then
    echo "it was configured with the compiler $cc, not ${CC:-cc}"
  fi
}

# build DIR [cmake args...]: configures DIR with these args, every time, then
# builds it. Re-configuring an existing Ninja tree takes a second and changes
# only what the args change, so scripts/demo and scripts/test, which each pass
# every option they depend on, get their own configuration whichever of them
# (or a developer's cmake) configured DIR last. A cache that cmake cannot
# re-use is removed first, and only the cache (CMakeCache.txt, CMakeFiles/):
# a Python venv or anything else in DIR stays.
build() {
  local dir=$1 why
  shift
  why=$(cache_conflict "$dir")
  if [ -n "$why" ]; then
    say "$dir: $why; removing its CMakeCache.txt and CMakeFiles/"
    rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
  fi
  cmake -S "$STRATA_ROOT" -B "$dir" -G Ninja "$@" >/dev/null || die "cmake configure of $dir failed"
  cmake --build "$dir" --parallel "$(nproc)" || die "build in $dir failed"
}
