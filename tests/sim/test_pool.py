"""The shared TCP buffer pool in the simulator: many-clients.ini (one server,
50 clients, 100 flows: 200 KB HTTP downloads and request/response) with each
host's tcp_pool far below max_tcp x both buffers. Every flow must still
finish with every byte intact, the pools must run dry (counted), and no host
may end with chunks in use. Before the fair share (core/TCP.md "Buffers"),
the first connections' receive windows claimed the whole server pool for
good and 95 of the 100 flows starved."""
import json
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCEN = REPO / "sim" / "scenarios"


def tight(tmp_path, server_pool, client_pool):
    text = (SCEN / "many-clients.ini").read_text()
    text = text.replace("max_tcp = 256\nframes = 512\n", f"max_tcp = 256\nframes = 512\ntcp_pool = {server_pool}\n", 1)
    text = text.replace("link.queue = 128KiB\n", f"link.queue = 128KiB\ntcp_pool = {client_pool}\n", 1)
    assert text.count("tcp_pool") == 2, "many-clients.ini changed shape: update this test"
    p = tmp_path / "tight.ini"
    p.write_text(text)
    return p


@pytest.mark.parametrize("server_pool,client_pool", [("160KiB", "48KiB"), ("64KiB", "16KiB")])
def test_every_flow_finishes_over_a_small_pool(sim, tmp_path, server_pool, client_pool):
    ini = tight(tmp_path, server_pool, client_pool)
    js = tmp_path / "out.json"
    r = subprocess.run([str(sim), "run", str(ini), "--quiet", "--json", str(js)], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    d = json.loads(js.read_text())
    assert d["integrity_errors"] == 0
    done = [f["name"] for f in d["flows"] if f["status"] == "done"]
    assert len(done) == len(d["flows"]) == 100
    blocked = sum(h["counters"].get("tcp_bufpool_send_blocked", 0) for h in d["hosts"])
    limited = sum(h["counters"].get("tcp_bufpool_window_limited", 0) for h in d["hosts"])
    assert blocked > 0 and limited > 0, (blocked, limited)  # the pools really ran dry
