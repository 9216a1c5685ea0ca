#!/usr/bin/env python3
"""Counts one conformance run (client leg) from its output directory.

usage: summary.py REVISION OUTPUT_DIR REQUIREMENTS_YAML BASELINE_YAML
       summary.py all OUTPUT_DIR SCENARIOS_TXT BASELINE_YAML

With `all`, SCENARIOS_TXT lists every client scenario of the suite (one per line, from the
suite's `list`), and every one of them is scored: unscored scenarios must pass too, unless the
baseline lists them with a reason. A scenario that ran but made no check (an extension the
client does not use) is shown as such and not counted as a pass.

A scenario passes when its checks.json has no FAILURE (the suite's own rule; WARNINGs are
counted and shown). Scored scenarios are the `client` list of the frozen requirement set
(REQUIREMENTS_YAML, shipped in the npm package); the baseline lists the client scenarios
expected to fail (authorization, issue 12). Prints one line per scenario and the counts; exits
1 when a scored scenario outside the baseline failed (or did not run), or a baseline entry now
passes (stale), 0 otherwise. Standard library only.
"""

import json
import re
import sys
from pathlib import Path


def yaml_list(path, key):
    """The items of a top-level `key:` list of plain scalars in a simple YAML file."""
    items, inside = [], False
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith((" ", "-")):
            inside = line.split(":", 1)[0].strip() == key
            continue
        m = re.match(r"^\s*-\s+([^\s#:]+)\s*(#.*)?$", line)
        if inside and m:
            items.append(m.group(1).strip("'\""))
    return items


def not_scored_client(path):
    """`not_scored` entries whose leg is client: {scenario: reason}."""
    out, current, inside = {}, {}, False
    for line in Path(path).read_text().splitlines() + ["end:"]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith((" ", "-")):
            if current.get("leg") == "client":
                out[current["scenario"]] = current.get("reason", "")
            current, inside = {}, line.split(":", 1)[0].strip() == "not_scored"
            continue
        if not inside:
            continue
        m = re.match(r"^\s*(-\s+)?(\w+):\s*(.*?)\s*$", line)
        if not m:
            continue
        if m.group(1):
            if current.get("leg") == "client":
                out[current["scenario"]] = current.get("reason", "")
            current = {}
        current[m.group(2)] = m.group(3).strip("'\"")
    return out


SKIPPED = {}  # scenario: the reason of its first SKIPPED check


def results(out_dir):
    """{scenario: (failures, warnings, successes)} from every checks.json under out_dir."""
    found = {}
    for checks in Path(out_dir).glob("**/checks.json"):
        rel = checks.parent.relative_to(out_dir).as_posix()
        name = re.sub(r"-\d{4}-\d{2}-\d{2}T[\d-]+Z$", "", rel)
        try:
            data = json.loads(checks.read_text())
            statuses = [c.get("status") for c in data]
            found[name] = (statuses.count("FAILURE"), statuses.count("WARNING"), statuses.count("SUCCESS"))
            skipped = [c.get("errorMessage", "") for c in data if c.get("status") == "SKIPPED"]
            if skipped:
                SKIPPED[name] = skipped[0]
        except (OSError, ValueError):
            found[name] = (1, 0, 0)
    return found


def main():
    revision, out_dir, requirements, baseline = sys.argv[1:5]
    if requirements.endswith(".txt"):
        scored = [line.strip() for line in Path(requirements).read_text().splitlines() if line.strip()]
        extra = {}
    else:
        scored = yaml_list(requirements, "client")
        extra = not_scored_client(requirements)
    expected = set(yaml_list(baseline, "client"))
    got = results(out_dir)
    counts = {"passed": 0, "failed": 0, "expected": 0, "stale": 0, "no checks": 0}
    print(f"conformance {revision}, client leg ({len(scored)} scored scenarios):")
    for name in scored:
        failures, warnings, successes = got.get(name, (None, 0, 0))
        passed = failures == 0
        if name in expected:
            kind = "stale (now passes: remove from the baseline)" if passed else "expected failure"
            counts["stale" if passed else "expected"] += 1
        elif passed and successes + warnings == 0:
            kind = "no checks"
            counts["no checks"] += 1
            if name in SKIPPED:
                kind = "skipped"
        elif passed:
            kind = "pass"
            counts["passed"] += 1
        else:
            kind = "FAIL" if failures is not None else "FAIL (did not run)"
            counts["failed"] += 1
        detail = "no result" if failures is None else f"{successes} ok, {failures} failed, {warnings} warnings"
        if name in SKIPPED and successes + warnings == 0:
            detail += f" (skipped by the suite: {SKIPPED[name]})"
        print(f"  {kind:<20} {name}: {detail}")
    for name, reason in sorted(extra.items()):
        failures, warnings, successes = got.get(name, (None, 0, 0))
        state = "no result" if failures is None else ("pass" if failures == 0 else "fail")
        print(f"  not scored ({reason}) {name}: {state}")
    print(
        f"conformance {revision}: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['expected']} expected failures (listed with their reasons), {counts['stale']} stale baseline entries, "
        f"{counts['no checks']} ran no check"
    )
    return 1 if counts["failed"] or counts["stale"] else 0


if __name__ == "__main__":
    sys.exit(main())
