"""The core contract checker rejects what the design forbids (so the ctest
contract.core_symbols really guards something), public headers compile
standalone, and the README's API example is the one CMake builds."""
import os
import pathlib
import re
import subprocess

import pytest

CHECK = "tools/check-core-symbols.sh"


def compile_obj(tmp_path, name, source):
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    obj = tmp_path / f"{name}.o"
    subprocess.run(["gcc", "-std=c11", "-c", str(src), "-o", str(obj)], check=True)
    return obj


@pytest.mark.parametrize(
    "name,source,reason",
    [
        ("uses_malloc", "#include <stdlib.h>\nvoid *f(void){return malloc(4);}\n", "malloc"),
        ("uses_printf", "#include <stdio.h>\nvoid f(int v){printf(\"%d\", v);}\n", "printf"),
        ("uses_clock", "#include <time.h>\nlong f(void){return (long)time(0);}\n", "time"),
        ("static_counter", "int g(void){static int n; return ++n;}\n", "writable"),
        ("global_var", "int counter = 3; int g(void){return counter++;}\n", "writable"),
        ("unprefixed", "int tcp_input(int v){return v + 1;}\n", "without the internal prefix"),
    ],
)
def test_checker_rejects_forbidden(tmp_path, repo_dir, name, source, reason):
    obj = compile_obj(tmp_path, name, source)
    r = subprocess.run([str(repo_dir / CHECK), str(obj)], capture_output=True, text=True)
    assert r.returncode == 1, r.stdout + r.stderr
    assert reason in r.stderr


def test_checker_accepts_freestanding(tmp_path, repo_dir):
    obj = compile_obj(tmp_path, "ok", "#include <string.h>\nstatic const int t[2]={1,2};\n"
                      "int mtcp_f(char *d, const char *s, unsigned long n){memcpy(d,s,n);return t[n&1];}\n"
                      "int microtcp_g(void){return 1;}\nint wire_h(void){return 2;}\n")
    r = subprocess.run([str(repo_dir / CHECK), str(obj)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_core_library_passes(build_dir, repo_dir):
    if os.environ.get("MICROTCP_SANITIZED") == "1":
        pytest.skip("sanitizer builds add instrumentation globals; checked in the default build")
    lib = build_dir / "libmicrotcp_core.a"
    r = subprocess.run([str(repo_dir / CHECK), str(lib)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


PUBLIC_HEADERS = sorted((pathlib.Path(__file__).resolve().parent.parent
                         / "core/include/microtcp").glob("*.h"))


@pytest.mark.parametrize("cc", ["gcc", "clang"])
@pytest.mark.parametrize("header", PUBLIC_HEADERS, ids=lambda p: p.name)
def test_public_header_standalone(tmp_path, repo_dir, header, cc):
    """Each public header compiles on its own (includes what it uses)."""
    assert PUBLIC_HEADERS, "no public headers found"
    src = tmp_path / "h.c"
    src.write_text(f'#include "microtcp/{header.name}"\n')
    r = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only",
                        "-I", str(repo_dir / "core/include"), str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_readme_example_is_the_compiled_example(repo_dir):
    """The README's core API example is quoted verbatim from examples/core_minimal.c,
    which CMake builds and ctest runs (example.core_minimal), so it cannot rot."""
    readme = (repo_dir / "README.md").read_text()
    section = readme.split("## The core API in 20 lines", 1)
    assert len(section) == 2, "README lost its core API section"
    block = re.search(r"```c\n(.*?)```", section[1], re.S)
    assert block, "no C code block in the core API section"
    example = (repo_dir / "examples/core_minimal.c").read_text()
    assert block.group(1).strip() in example, "README example differs from examples/core_minimal.c"
