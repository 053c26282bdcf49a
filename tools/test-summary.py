#!/usr/bin/python3
"""Prints every skipped test, with its reason, from the JUnit files the test
command writes (ctest --output-junit and pytest --junitxml), so no skip hides
in Testing/Temporary/LastTest.log.

usage: tools/test-summary.py LABEL=FILE.xml...
exit codes: 0 ok, 1 failure found (CI=true and ctest skipped a test: a ctest
skip is SKIP_RETURN_CODE / SKIP_REGULAR_EXPRESSION / DISABLED, the test could
not run here), 2 usage error or unreadable file. pytest skips for a missing
package already fail inside pytest under CI=true (tests/conftest.py); those
left are skips by design, listed here."""
import argparse
import os
import sys
import xml.etree.ElementTree as ET


def skips(path):
    """(kind, name, reason) of each skipped testcase; kind is ctest or pytest."""
    root = ET.parse(path).getroot()
    out = []
    for tc in root.iter("testcase"):
        sk = tc.find("skipped")
        status = tc.get("status")
        if sk is None and status not in ("notrun", "disabled"):
            continue
        if tc.get("status") is not None:  # ctest's format
            reason = (sk.get("message") if sk is not None else status) or status
            so = tc.findtext("system-out") or ""
            lines = [l for l in so.splitlines() if l.strip()]
            if lines:  # the test's own last words say why better than the code
                reason = f"{lines[-1].strip()} ({reason})"
            out.append(("ctest", tc.get("name"), reason))
        else:
            cls, name = tc.get("classname", ""), tc.get("name", "")
            reason = sk.get("message", "") if sk is not None else ""
            out.append(("pytest", f"{cls}::{name}" if cls else name, reason))
    return out


def main(argv):
    ap = argparse.ArgumentParser(prog="tools/test-summary.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", metavar="LABEL=FILE.xml")
    ap.add_argument("--version", action="version", version="test-summary (microtcp) 0.1.0")
    argv = ap.parse_args(argv).files
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    failed = False
    print("== skipped tests", file=sys.stderr)
    total = 0
    for arg in argv:
        label, _, path = arg.partition("=")
        if not os.path.exists(path):
            print(f"  {label}: {path} not written (that step did not run)", file=sys.stderr)
            continue
        try:
            found = skips(path)
        except ET.ParseError as e:
            print(f"test-summary: {path}: {e}", file=sys.stderr)
            return 2
        for kind, name, reason in found:
            mark = ""
            if kind == "ctest" and ci:
                mark, failed = "  <- a failure with CI=true", True
            print(f"  {label} {kind} {name}: {reason}{mark}", file=sys.stderr)
        total += len(found)
    if total == 0:
        print("  none", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
