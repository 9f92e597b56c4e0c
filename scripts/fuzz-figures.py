"""Prints the figures of schemathesis runs from their NDJSON reports (one folder or several), for scripts/fuzz:

    <operations fuzzed> <examples run> <failures> <requests> <2xx answers>

operations: distinct API operations that received at least one test case; examples: distinct test
cases generated and sent to them (the unsupported_method probes of other methods not counted);
failures: distinct (operation, check, failure title) triples, plus scenarios that errored; requests:
every request sent (a check such as ignored_auth sends extra ones); 2xx: requests the API accepted.
With -v, the failures are listed on stderr.
"""
import glob
import json
import sys

paths = [path for folder in sys.argv[1:] if folder != "-v" for path in glob.glob(folder + "/*.ndjson")]
operations, cases, failures, requests, accepted = set(), {}, set(), 0, 0
for path in paths:
    with open(path) as f:
        for line in f:
            event = json.loads(line)
            (kind, body), = event.items()
            if kind != "ScenarioFinished":
                continue
            if body.get("status") == "error":
                failures.add((body["recorder"].get("label", "?"), "error", body.get("skip_reason") or "scenario error"))
            recorder = body["recorder"]
            for case_id, case in recorder.get("cases", {}).items():
                value = case["value"]
                cases[case_id] = f'{value["method"]} {value["path"]}'
                if body.get("phase") != "stateful" and recorder.get("label") == cases[case_id]:
                    operations.add(cases[case_id])
            for case_id, interaction in recorder.get("interactions", {}).items():
                requests += 1
                response = interaction.get("response") or {}
                if 200 <= response.get("status_code", 0) < 300:
                    accepted += 1
            for case_id, checks in recorder.get("checks", {}).items():
                for check in checks:
                    if check.get("status") != "failure":
                        continue
                    value = recorder["cases"].get(case_id, {}).get("value", {})
                    label = f'{value.get("method", "?")} {value.get("path", "?")}'
                    title = (check.get("failure_info") or {}).get("failure", {}).get("title", "")
                    failures.add((label, check["name"], title))
if "-v" in sys.argv:
    for failure in sorted(failures):
        print("  failure:", " | ".join(failure), file=sys.stderr)
examples = sum(1 for label in cases.values() if label in operations)
print(len(operations), examples, len(failures), requests, accepted)
