#!/usr/bin/env bash
# Checks deploy/monitoring/: the Prometheus config and rules (promtool check config / check
# rules), the rules' unit tests (promtool test rules), and the Grafana dashboard (valid JSON,
# and every PromQL expression in it parses). Needs promtool: apt-get install prometheus.
set -euo pipefail
cd "$(dirname "$0")/../deploy/monitoring"
if ! command -v promtool >/dev/null; then
  echo "check_monitoring: promtool not found (apt-get install -y prometheus)" >&2
  exit 2
fi

echo "== promtool check config prometheus.yml"
promtool check config prometheus.yml
echo "== promtool check rules rules/ptserve.rules.yml"
promtool check rules rules/ptserve.rules.yml
echo "== promtool test rules rules/ptserve.rules.test.yml"
promtool test rules rules/ptserve.rules.test.yml

echo "== Grafana dashboard grafana/ptserve.json"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Every panel's PromQL, with Grafana's variables filled in, as recording rules for promtool.
python3 - grafana/ptserve.json "$tmp/dashboard.rules.yml" <<'PY'
import json, sys
dash = json.load(open(sys.argv[1]))
assert dash["uid"] and dash["title"], "dashboard needs uid and title"
exprs, ids = [], set()
def walk(panels):
    for p in panels:
        assert p["id"] not in ids, f"duplicate panel id {p['id']}"
        ids.add(p["id"])
        walk(p.get("panels", []))
        for t in p.get("targets", []):
            exprs.append((p["title"], t["expr"]))
walk(dash["panels"])
for v in dash["templating"]["list"]:
    if v["type"] == "query":
        exprs.append(("variable " + v["name"], "count(" + v["definition"].replace("label_values(", "").rsplit(",", 1)[0] + ")"))
subst = {"$__rate_interval": "1m", "$__interval": "15s", "$model": ".*", "$job": ".*", "$instance": ".*"}
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (title, e) in enumerate(exprs):
        for k, v in subst.items():
            e = e.replace(k, v)
        assert "$" not in e, f"{title}: unsubstituted variable in {e}"
        out.write(f"      - record: dashboard:expr_{i}\n        expr: {json.dumps(e)}\n")
print(f"  {len(ids)} panels, {len(exprs)} expressions")
PY
promtool check rules "$tmp/dashboard.rules.yml" >/dev/null
echo "  SUCCESS: every dashboard expression parses"

echo "== Grafana provisioning"
python3 - grafana/provisioning/datasources/prometheus.yml grafana/provisioning/dashboards/ptserve.yml <<'PY'
import sys
try:
    import yaml
except ImportError:
    print("  (python3-yaml not installed: provisioning files not parsed)")
    sys.exit(0)
for path in sys.argv[1:]:
    doc = yaml.safe_load(open(path))
    assert doc["apiVersion"] == 1, path
    assert doc.get("datasources") or doc.get("providers"), path
    print(f"  SUCCESS: {path}")
PY
echo "== monitoring config OK"
