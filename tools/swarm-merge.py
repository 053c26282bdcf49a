#!/usr/bin/python3
"""Merge the per-shard JSON reports of `microtcp-sim swarm --shard K/N --json
FILE` into one report: checks that every shard 1..N of the same scenario and
seed range is there exactly once and ran all its seeds, then prints the
totals and every failing seed's reproduce command.

usage: tools/swarm-merge.py [--json OUT] SHARD.json...
exit codes: 0 ok (every seed passed), 1 failure found (a seed failed),
            2 usage or input error (unreadable file, shards missing, twice,
              or from different runs)
"""
import argparse
import json
import sys


def expected_count(first, last, k, n):
    span = last - first
    return 0 if k > span else (span - k) // n + 1


def merge(reports):
    """The merged report, or raises ValueError with what is wrong."""
    key = {(r["scenario"], r["first_seed"], r["last_seed"], r["shards"], r.get("until", "")) for r in reports}
    if len(key) != 1:
        raise ValueError("the reports come from different runs: " + "; ".join(
            f"{s} seeds {a}..{b} in {n} shards" + (f" --until {u}" if u else "") for s, a, b, n, u in sorted(key)))
    scenario, first, last, n, until = key.pop()
    seen = {}
    for r in reports:
        k = r["shard"]
        if k in seen:
            raise ValueError(f"shard {k}/{n} given twice")
        seen[k] = r
    missing = sorted(set(range(1, n + 1)) - set(seen))
    if missing:
        raise ValueError(f"shards missing: {', '.join(f'{k}/{n}' for k in missing)}")
    a, b = int(first), int(last)
    for k, r in seen.items():
        want = expected_count(a, b, k - 1, n)
        if r["seeds_run"] != want:
            raise ValueError(f"shard {k}/{n} ran {r['seeds_run']} of its {want} seeds (stopped early?)")
    failures = sorted((f for r in reports for f in r["failures"]), key=lambda f: int(f["seed"]))
    return {"scenario": scenario, "first_seed": first, "last_seed": last, "shards": n, "until": until,
            "seeds_run": sum(r["seeds_run"] for r in reports), "seeds_failed": len(failures),
            "exit_code": max([r["exit_code"] for r in reports] + [0]), "failures": failures}


def main(argv):
    ap = argparse.ArgumentParser(prog="tools/swarm-merge.py", description=__doc__.split("\n\n")[0],
                                 epilog="exit codes: 0 ok, 1 failure found (a seed failed), "
                                        "2 usage or input error",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+", metavar="SHARD.json")
    ap.add_argument("--json", metavar="OUT", help="write the merged report here")
    ap.add_argument("--version", action="version", version="swarm-merge (microtcp) 0.1.0")
    args = ap.parse_args(argv)
    reports = []
    for path in args.reports:
        try:
            with open(path) as f:
                reports.append(json.load(f))
        except (OSError, ValueError) as e:
            print(f"swarm-merge: {path}: {e}", file=sys.stderr)
            return 2
    try:
        m = merge(reports)
    except (ValueError, KeyError) as e:
        print(f"swarm-merge: {e}", file=sys.stderr)
        return 2
    print(f"swarm {m['scenario']} seeds {m['first_seed']}..{m['last_seed']} in {m['shards']} shards: "
          f"{m['seeds_run']} seeds run, {m['seeds_failed']} failed")
    for f in m["failures"]:
        print(f"  seed {f['seed']} {f['kind']}: reproduce: {f['reproduce']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(m, f, indent=1)
            f.write("\n")
    return 1 if m["failures"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
