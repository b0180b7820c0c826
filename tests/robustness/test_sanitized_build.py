"""The sanitized run (.ci/sanitize sets TCPTABLE_SANITIZED=1) tests an
extension that really is instrumented: the imported module carries ASan's and
UBSan's symbols.  A build that reused plain objects from build/ did not."""

import os
import shutil
import subprocess

import pytest
import tcptable._tcptable as extension


@pytest.mark.skipif(
    os.environ.get("TCPTABLE_SANITIZED") != "1", reason="only the sanitized run (.ci/sanitize)"
)
def test_the_imported_extension_is_instrumented():
    assert shutil.which("nm"), "nm (binutils) is needed to read the extension's symbols"
    symbols = subprocess.run(
        ["nm", "-D", extension.__file__], capture_output=True, text=True, check=True
    ).stdout
    assert "__asan_init" in symbols
    assert "__ubsan_handle_" in symbols
