#!/usr/bin/env bash
# Cross-compiles the Windows backend the wheel builds (the very same ext/
# sources and macros, from ext/manifest.py) with a command-line driver, for
# running under Wine:
#   OUTDIR/tcptable_dump.exe        the backend as shipped
#   OUTDIR/tcptable_dump_tiny.exe   first buffer too small: every call resizes
#   OUTDIR/tcptable_dump_never.exe  tiny first buffer and a single try: the
#                                   "table never settles" error
#   OUTDIR/tcptable_dump_fail_C.exe the first call of each dump answers code C
#                                   (decimal): 122, 14 and 3221225473
#                                   (STATUS_UNSUCCESSFUL) must be retried, 87
#                                   reported
# The test builds put fake_calls.c (the same backend, its API calls behind
# fakes) in place of the backend's tables.c and stats.c.
set -euo pipefail
out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
ext="$here/../../ext"
mkdir -p "$out"
mapfile -t sources < <(python3 "$ext/manifest.py" sources win32-backend)
mapfile -t macros < <(python3 "$ext/manifest.py" macros win32-backend)
mapfile -t libs < <(python3 "$ext/manifest.py" libraries win32-backend)
mapfile -t faked < <(printf '%s\n' "${sources[@]}" | grep -Ev '/arch/windows/(tables|stats)\.c$')
cc=(x86_64-w64-mingw32-gcc -std=c11 -O2 -Wall -Wextra -Werror "${macros[@]/#/-D}"
    -I"$ext" "$here/dump_main.c")
"${cc[@]}" "${sources[@]}" "${libs[@]/#/-l}" -o "$out/tcptable_dump.exe"
fake=("$here/fake_calls.c" "${faked[@]}" "${libs[@]/#/-l}")
"${cc[@]}" -DTT_FAKE_TINY_FIRST_CALL "${fake[@]}" -o "$out/tcptable_dump_tiny.exe"
"${cc[@]}" -DTT_FAKE_TINY_FIRST_CALL -DTT_WIN_TRIES=1 "${fake[@]}" -o "$out/tcptable_dump_never.exe"
for code in 122 14 3221225473 87; do
    "${cc[@]}" -DTT_FAKE_FIRST_CALL_CODE="${code}UL" "${fake[@]}" -o "$out/tcptable_dump_fail_$code.exe"
done
