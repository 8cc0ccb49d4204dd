// Checks that the prometheus-adapter rules serve every Pods metric an HPA asks for.
// Usage: node check-adapter.mjs DIR   (DIR: the rendered overlays, from scripts/k8s_validate.sh)
import { readFileSync, readdirSync } from "node:fs";
import { parse, parseAllDocuments } from "yaml";
const out = process.argv[2];
const adapter = parseAllDocuments(readFileSync(`${out}/prometheus-adapter.yaml`, "utf8")).map((d) => d.toJS());
const rules = parse(adapter.find((o) => o.kind === "ConfigMap").data["config.yaml"]).rules;
const served = new Set();
for (const r of rules) {
  const series = r.seriesQuery.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)/)[1];
  const as = series.replace(new RegExp(r.name.matches), r.name.as);
  if (!r.metricsQuery.includes("<<.Series>>") || !r.metricsQuery.includes("<<.LabelMatchers>>") || !r.metricsQuery.includes("<<.GroupBy>>"))
    { console.log(`FAIL rule for ${series}: metricsQuery must use <<.Series>>, <<.LabelMatchers>> and <<.GroupBy>>`); process.exit(1); }
  if (!r.resources?.overrides?.pod) { console.log(`FAIL rule for ${series}: no pod resource override`); process.exit(1); }
  served.add(as);
  console.log(`   rule: ${series} -> pods metric ${as}`);
}
let bad = 0;
for (const f of readdirSync(out).filter((f) => f.endsWith(".yaml") && f !== "prometheus-adapter.yaml")) {
  for (const o of parseAllDocuments(readFileSync(`${out}/${f}`, "utf8")).map((d) => d.toJS())) {
    if (o?.kind !== "HorizontalPodAutoscaler") continue;
    for (const m of o.spec.metrics ?? []) {
      if (m.type !== "Pods") continue;
      const ok = served.has(m.pods.metric.name);
      if (!ok) bad++;
      console.log(`   ${ok ? "ok  " : "FAIL"} ${f}: HPA ${o.metadata.name} Pods metric ${m.pods.metric.name}${ok ? "" : " is not served by the adapter rules"}`);
    }
  }
}
process.exit(bad ? 1 : 0);
