#!/usr/bin/env bash
# Builds the C example against libpciplan_ffi and checks that its output is
# byte-equal to `pciplan assign` on a few corpus cases, then runs each case
# under valgrind (no leak, no error) when valgrind is installed.
# Usage: ffi/check.sh  (from anywhere; needs cc and the release build of
# pciplan and pciplan-ffi: cargo build --release -p pciplan -p pciplan-ffi)
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
lib="$target/release"
exe="$target/ffi-assign-c"
cc -std=c11 -Wall -Wextra -Werror -Iffi/include ffi/examples/assign.c -L"$lib" -lpciplan_ffi -o "$exe"

probed=tests/data/probed/caps-qemu-7.2.xml
cases=(
    "examples/q35-virtio.xml"
    "examples/pc-basic.xml"
    "--caps $probed tests/data/libvirt-9.0/cases/pci-bridge/input.xml"
    "--caps $probed tests/data/libvirt-9.0/cases/pci-many/input.xml"
    "--caps $probed tests/data/libvirt-9.0/cases/pcie-expander-bus/input.xml"
    "--caps tests/data/probed/caps-qemu-7.2-aarch64.xml tests/data/libvirt-9.0/cases/aarch64-virtio-pci-default.aarch64-latest/input.xml"
    "benches/data/pc-bridges-7679.xml"
    "tests/data/libvirt-9.0/cases/pcie-root-port-too-many/input.xml"
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
for c in "${cases[@]}"; do
    # shellcheck disable=SC2086
    set +e
    "$lib/pciplan" assign $c >"$tmp/cli.out" 2>"$tmp/cli.err"
    cli_rc=$?
    LD_LIBRARY_PATH="$lib" "$exe" $c >"$tmp/c.out" 2>"$tmp/c.err"
    c_rc=$?
    set -e
    cmp "$tmp/cli.out" "$tmp/c.out"
    cmp "$tmp/cli.err" "$tmp/c.err"
    test "$cli_rc" = "$c_rc"
    n=$((n + 1))
    echo "same bytes as the CLI (exit $c_rc, $(wc -c <"$tmp/c.out") bytes): $c"
done
echo "C example: $n/${#cases[@]} cases byte-equal to the CLI"

if command -v valgrind >/dev/null 2>&1; then
    for c in "${cases[@]}"; do
        set +e
        # shellcheck disable=SC2086
        LD_LIBRARY_PATH="$lib" valgrind --leak-check=full --show-leak-kinds=all \
            --errors-for-leak-kinds=all --error-exitcode=99 -q "$exe" $c >/dev/null 2>"$tmp/vg.err"
        rc=$?
        set -e
        if [ "$rc" = 99 ]; then
            cat "$tmp/vg.err" >&2
            echo "valgrind found errors or leaks: $c" >&2
            exit 1
        fi
    done
    echo "valgrind --leak-check=full: ${#cases[@]} cases, no error, no leak"
else
    echo "skip: valgrind not installed"
fi
