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
set -euo pipefail
out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
ext="$here/../../ext"
mkdir -p "$out"
mapfile -t sources < <(python3 "$ext/manifest.py" sources win32-backend)
mapfile -t macros < <(python3 "$ext/manifest.py" macros win32-backend)
mapfile -t libs < <(python3 "$ext/manifest.py" libraries win32-backend)
cc=(x86_64-w64-mingw32-gcc -std=c11 -O2 -Wall -Wextra -Werror "${macros[@]/#/-D}"
    -I"$ext" "$here/dump_main.c" "${sources[@]}" "${libs[@]/#/-l}")
"${cc[@]}" -o "$out/tcptable_dump.exe"
"${cc[@]}" -DTCPTABLE_TEST_TINY_FIRST_GUESS -o "$out/tcptable_dump_tiny.exe"
"${cc[@]}" -DTCPTABLE_TEST_TINY_FIRST_GUESS -DTT_WIN_TRIES=1 -o "$out/tcptable_dump_never.exe"
for code in 122 14 3221225473 87; do
    "${cc[@]}" -DTT_WIN_TEST_CODE="${code}UL" -o "$out/tcptable_dump_fail_$code.exe"
done
