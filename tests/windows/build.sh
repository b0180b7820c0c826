#!/usr/bin/env bash
# Cross-compiles the Windows backend the wheel builds (the very same ext/
# sources) with a command-line driver, for running under Wine:
#   OUTDIR/tcptable_dump.exe        the backend as shipped
#   OUTDIR/tcptable_dump_tiny.exe   first buffer too small: every call resizes
#   OUTDIR/tcptable_dump_never.exe  tiny first buffer and a single try: the
#                                   "table never settles" error
set -euo pipefail
out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
ext="$here/../../ext"
mkdir -p "$out"
cc=(x86_64-w64-mingw32-gcc -std=c11 -O2 -Wall -Wextra -Werror -D_WIN32_WINNT=0x0600
    -I"$ext" "$here/dump_main.c" "$ext/backend_windows.c" "$ext/rows.c" "$ext/addr.c"
    -liphlpapi -lws2_32)
"${cc[@]}" -o "$out/tcptable_dump.exe"
"${cc[@]}" -DTCPTABLE_TEST_TINY_FIRST_GUESS -o "$out/tcptable_dump_tiny.exe"
"${cc[@]}" -DTCPTABLE_TEST_TINY_FIRST_GUESS -DTT_WIN_TRIES=1 -o "$out/tcptable_dump_never.exe"
