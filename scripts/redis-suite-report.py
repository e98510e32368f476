#!/usr/bin/env python3
"""Reads the runtest logs scripts/redis-suite.sh leaves and prints, per
unit, what redis-server and agora passed (Markdown), the tests redis-server
passes and agora does not, and — in check mode — fails when a test the
committed list says agora passes does not pass any more.

    redis-suite-report.py LOGS PASSING [check] [write] -- UNIT...

A unit whose agora run aborted (an exception, or no summary at the end)
counts as all its tests failed: its passes are not counted.
"""

import re
import sys
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")
OK = re.compile(r"^\[ok\]: (.*?)(?: \(\d+ ms\))?$")
ERR = re.compile(r"^\[err\]: (.*?)(?: in tests/\S+)?$")


def read(log: Path):
    """(passed, failed, completed) of one runtest log; None when absent."""
    if not log.exists():
        return None
    passed, failed = set(), set()
    exception = False
    for raw in log.read_text(errors="replace").splitlines():
        line = ANSI.sub("", raw).rstrip()
        if m := OK.match(line):
            passed.add(m.group(1))
        elif m := ERR.match(line):
            failed.add(m.group(1))
        elif line.startswith("[exception]") or line.startswith("[timeout]"):
            exception = True
    text = ANSI.sub("", log.read_text(errors="replace"))
    summary = "All tests passed" in text or "The following tests failed" in text
    return passed, failed, summary and not exception


def main() -> int:
    args = sys.argv[1:]
    split = args.index("--")
    logs, passing_file, flags, units = Path(args[0]), Path(args[1]), args[2:split], args[split + 1 :]
    check, write = "check" in flags, "write" in flags

    listed: dict[str, set[str]] = {}
    if passing_file.exists():
        for line in passing_file.read_text().splitlines():
            if line and not line.startswith("#"):
                unit, _, name = line.partition("\t")
                listed.setdefault(unit, set()).add(name)

    print("| unit | redis-server passed | agora passed | both | agora's run |")
    print("|---|---:|---:|---:|---|")
    totals = [0, 0, 0]
    missing: dict[str, list[str]] = {}
    regressions: list[str] = []
    agora_passing: dict[str, set[str]] = {}
    for unit in units:
        key = unit.replace("/", "_")
        redis = read(logs / f"redis-{key}.log")
        agora = read(logs / f"agora-{key}.log")
        a_pass = agora[0] if agora and agora[2] else set()
        agora_passing[unit] = a_pass
        status = "completed" if agora and agora[2] else "aborted"
        if redis:
            r_pass = redis[0]
            both = r_pass & a_pass
            missing[unit] = sorted(r_pass - a_pass)
            row = (len(r_pass), len(a_pass), len(both))
            totals = [t + n for t, n in zip(totals, row)]
            print(f"| {unit} | {row[0]} | {row[1]} | {row[2]} | {status} |")
        else:
            totals[1] += len(a_pass)
            print(f"| {unit} | — | {len(a_pass)} | — | {status} |")
        for name in sorted(listed.get(unit, set()) - a_pass):
            regressions.append(f"{unit}: {name}")
    if any(read(logs / f"redis-{u.replace('/', '_')}.log") for u in units):
        print(f"| **all** | **{totals[0]}** | **{totals[1]}** | **{totals[2]}** | |")

    for unit, names in missing.items():
        if not names:
            continue
        print(f"\n{unit}: {len(names)} passed by redis-server, not by agora")
        for name in names[:30]:
            print(f"  - {name}")
        if len(names) > 30:
            print(f"  - … and {len(names) - 30} more (see the logs)")

    if write:
        lines = ["# Tests of Redis's suite agora passes: scripts/redis-suite.sh keeps",
                 "# them passing (SUITE_CHECK=1 in CI). Rewritten by SUITE_WRITE=1.",
                 "# unit<TAB>test name"]
        for unit in sorted(set(listed) | set(units)):
            names = agora_passing.get(unit, listed.get(unit, set()))
            lines += [f"{unit}\t{name}" for name in sorted(names)]
        passing_file.write_text("\n".join(lines) + "\n")
        print(f"\nwrote {passing_file}", file=sys.stderr)

    if check:
        if regressions:
            print(f"\n{len(regressions)} test(s) listed as passing failed:", file=sys.stderr)
            for r in regressions:
                print(f"  {r}", file=sys.stderr)
            return 1
        count = sum(len(listed.get(u, set())) for u in units)
        print(f"\nsuite: the {count} listed tests still pass", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
