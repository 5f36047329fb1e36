"""Golden transcripts of the PBFT core (tests/pbft/testdata/*.txt), as in etcd-io/raft.

Each file is a sequence of blocks ``command args`` / ``----`` / expected output, run against
one ``interaction.Cluster``. ``UQO_REWRITE=1`` rewrites the expected output from what the code
prints now; the diff is then reviewed like code. Each file names the paper section it covers.
"""

from __future__ import annotations

import os
import pathlib

import pytest

from .interaction import Cluster, wire_str

DATA = pathlib.Path(__file__).parent / "testdata"


def parse(text: str) -> list[tuple[list[str], str, list[str]]]:
    """Blocks of (leading comment/blank lines, command, expected output lines)."""
    blocks, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        lead = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith("#")):
            lead.append(lines[i])
            i += 1
        if i >= len(lines):
            blocks.append((lead, "", []))
            break
        cmd = lines[i]
        i += 1
        if i >= len(lines) or lines[i] != "----":
            raise ValueError(f"line {i + 1}: expected ---- after {cmd!r}")
        i += 1
        out = []
        while i < len(lines) and lines[i].strip():
            out.append(lines[i])
            i += 1
        blocks.append((lead, cmd, out))
    return blocks


def _args(words: list[str]) -> tuple[list[str], dict]:
    pos = [w for w in words if "=" not in w]
    kv = dict(w.split("=", 1) for w in words if "=" in w)
    return pos, kv


def _ids(value: str | None):
    return None if value is None else {int(x) for x in value.split(",")}


def run_command(env: dict, cmd: str) -> list[str]:
    words = cmd.split()
    name, (pos, kv) = words[0], _args(words[1:])
    out: list[str] = []
    c: Cluster | None = env.get("cluster")
    persist = "quiet" not in pos
    if name == "init":
        n = int(kv.pop("n", 4))
        names = {"k": "checkpoint_interval", "l": "log_size", "batch": "max_batch",
                 "inflight": "max_inflight", "timeout": "view_change_ticks",
                 "status": "status_ticks"}
        cfg = {"status_ticks": 1000}
        cfg.update({names[k]: int(v) for k, v in kv.items()})
        env["cluster"] = Cluster(n, **cfg)
        out.append(f"{n} replicas, f={env['cluster'].nodes[0].core.q.f}, "
                   f"quorum={env['cluster'].nodes[0].core.q.quorum}")
    elif name == "request":
        signed = c.request(kv["client"], int(kv["ts"]), kv.get("op", "x"))
        for to in sorted(_ids(kv.get("to", "0"))):
            c.nodes[to].core.propose(signed)
            c.nodes[to].handle(out, persist)
    elif name == "deliver":
        c.deliver(out, to=_ids(kv.get("to")), src=_ids(kv.get("from")), kind=kv.get("type"),
                  drop="drop" in pos, persist=persist)
    elif name == "stabilize":
        c.handle_all(out, persist)
        while c.deliver(out, persist=persist):
            pass
    elif name == "tick":
        nodes = _ids(kv.get("nodes")) or set(range(c.n))
        for _ in range(int(kv.get("n", 1))):
            for i in sorted(nodes):
                if c.nodes[i].up:
                    c.nodes[i].core.tick()
                    c.nodes[i].handle(out, persist)
    elif name == "crash":
        node = c.nodes[int(pos[0])]
        node.up, node.core = False, None
        c.queue = [m for m in c.queue if m[1] != node.i]
    elif name == "restart":
        node = c.nodes[int(pos[0])]
        node.start()
        out.append(f"{node.i} restarted at executed={node.core.last_executed} view="
                   f"{node.core.state.view} log={sorted(node.core.state.slots)}")
        node.handle(out, persist)
    elif name in ("craft", "forge"):
        src = int(kv["from"])
        claim = int(kv.get("as", src))
        data = c.craft(src, claim, kv["kind"], kv)
        for to in sorted(_ids(kv["to"])):
            out.append(f"-> {to} {'forged ' if claim != src else ''}{wire_str(data)}")
            c.step_raw(to, data, out)
    elif name == "raw":
        c.step_raw(int(kv["to"]), bytes.fromhex(kv.get("hex", "")), out)
    elif name == "replay":
        to_, data = c.history[int(kv["index"])]
        c.step_raw(int(kv.get("to", to_)), data, out)
    elif name == "status":
        out += c.status_lines()
    elif name == "ops":
        out += [f"{n.i}: {n.ops}" for n in c.nodes if n.up]
    else:
        raise ValueError(f"unknown command {name!r}")
    return out or ["ok"]


FILES = sorted(DATA.glob("*.txt"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_transcript(path):
    blocks = parse(path.read_text())
    env: dict = {}
    rewritten, mismatches = [], []
    for lead, cmd, expected in blocks:
        rewritten += lead
        if not cmd:
            continue
        got = run_command(env, cmd)
        rewritten += [cmd, "----", *got]
        if got != expected:
            mismatches.append((cmd, expected, got))
    if os.environ.get("UQO_REWRITE") == "1":
        text = "\n".join(rewritten).rstrip("\n") + "\n"
        path.write_text(text)
        return
    assert not mismatches, "\n".join(
        f"{cmd}\nexpected:\n  " + "\n  ".join(e) + "\ngot:\n  " + "\n  ".join(g)
        for cmd, e, g in mismatches[:3])
