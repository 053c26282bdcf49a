"""The TCP module headers of the core compile on their own: each includes what
it uses, so any file may include any one of them first (issue 15 part 6). The
other module headers (arp.h, ipv4.h, icmp.h, udp.h) are not listed yet."""
import subprocess

import pytest

HEADERS = ["tcp.h", "tcp_int.h", "tcp_sack.h", "tcp_cc.h", "tcp_buf.h", "internal.h", "invariant.h"]


@pytest.mark.parametrize("cc", ["gcc", "clang"])
@pytest.mark.parametrize("header", HEADERS)
def test_tcp_header_standalone(tmp_path, repo_dir, header, cc):
    assert (repo_dir / "core/src" / header).exists(), header
    src = tmp_path / "h.c"
    src.write_text(f'#include "{header}"\n')
    r = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                        "-I", str(repo_dir / "core/src"), "-I", str(repo_dir / "core/include"),
                        str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
