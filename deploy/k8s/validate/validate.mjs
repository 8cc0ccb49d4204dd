// Offline validation of rendered Kubernetes manifests (scripts/k8s_validate.sh runs it):
//   node validate.mjs rendered.yaml ...      (or the YAML on stdin)
//
// 1. Schema: each object against the schema of its apiVersion/kind shipped by npm's
//    kubernetes-models (core APIs) and @kubernetes-models/prometheus-operator (ServiceMonitor,
//    PodMonitor, PrometheusRule). An object whose kind neither package knows is reported as
//    "skip", not as a failure.
// 2. Unknown fields: the packages' validators accept fields the schema does not know (a typo
//    such as `readinesProbe` would pass). The object is handed to the validator behind a Proxy that
//    records which properties the validator looks up; a field it never looked up, in an object
//    whose other properties it did look up (so the schema describes that object), is unknown.
//    Maps (labels, ConfigMap data) are enumerated by the validator and are not checked.
// 3. Consistency across the objects of one rendering: Service, PodDisruptionBudget and
//    ServiceMonitor selectors match the Deployment's pods / the Service; named ports exist;
//    referenced ConfigMaps, PVCs, ServiceAccounts exist; the HPA targets a Deployment that exists;
//    terminationGracePeriodSeconds covers the preStop sleep plus PTSERVE_EXIT_TIMEOUT_SECS;
//    every container has requests and limits, probes, a read-only root and runs as non-root.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const files = process.argv.slice(2);
const inputs = files.length ? files.map((f) => [f, readFileSync(f, "utf8")]) : [["-", readFileSync(0, "utf8")]];

const PACKAGES = [
  (group, version, kind) => `kubernetes-models/${group ? group + "/" : ""}${version}/${kind}`,
  (group, version, kind) => `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`,
];

async function modelClass(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  for (const path of PACKAGES) {
    if (!group && path !== PACKAGES[0]) continue;
    try {
      const mod = await import(path(group, version, kind));
      if (mod[kind]) return mod[kind];
    } catch (e) {
      if (e.code !== "ERR_MODULE_NOT_FOUND" && e.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw e;
    }
  }
  return null;
}

// --- 2. property-access tracking -----------------------------------------------------------
function tracked(root) {
  const info = new WeakMap(); // target -> {read: Set, enumerated: bool}
  const proxies = new WeakMap();
  const wrap = (v) => {
    if (v === null || typeof v !== "object") return v;
    if (proxies.has(v)) return proxies.get(v);
    info.set(v, { read: new Set(), enumerated: false });
    const p = new Proxy(v, {
      get(t, k, r) {
        if (typeof k === "string") info.get(t).read.add(k);
        return wrap(Reflect.get(t, k, r));
      },
      has(t, k) {
        if (typeof k === "string") info.get(t).read.add(k);
        return Reflect.has(t, k);
      },
      ownKeys(t) {
        info.get(t).enumerated = true;
        return Reflect.ownKeys(t);
      },
    });
    proxies.set(v, p);
    return p;
  };
  return { proxy: wrap(root), info };
}

function unknownFields(obj, info, path = "") {
  const out = [];
  if (Array.isArray(obj)) {
    obj.forEach((v, i) => out.push(...unknownFields(v, info, `${path}[${i}]`)));
  } else if (obj && typeof obj === "object") {
    const i = info.get(obj);
    const described = i && !i.enumerated && i.read.size > 0;
    for (const [k, v] of Object.entries(obj)) {
      if (described && !i.read.has(k)) out.push(`${path}.${k}`);
      else out.push(...unknownFields(v, info, `${path}.${k}`));
    }
  }
  return out;
}

// --- 1 + 2 -------------------------------------------------------------------------------------
let bad = 0, ok = 0, skipped = 0;
const objects = [];
for (const [file, text] of inputs) {
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) { bad++; console.log(`FAIL ${file}: YAML: ${doc.errors[0].message}`); continue; }
    const obj = doc.toJS();
    if (!obj) continue;
    const id = `${obj.kind}/${obj.metadata?.name}`;
    if (!obj.apiVersion || !obj.kind) { bad++; console.log(`FAIL ${file}: an object without apiVersion/kind`); continue; }
    objects.push(obj);
    const Cls = await modelClass(obj.apiVersion, obj.kind);
    if (!Cls) { skipped++; console.log(`skip ${id} (${obj.apiVersion}: no schema in the installed packages)`); continue; }
    const clone = structuredClone(obj);
    const { proxy, info } = tracked(clone);
    try {
      Cls.prototype.validate.call(proxy);
    } catch (e) {
      bad++; console.log(`FAIL ${id}: ${e.message.split("\n").slice(0, 8).join(" | ")}`); continue;
    }
    const unknown = unknownFields(clone, info);
    if (unknown.length) { bad++; console.log(`FAIL ${id}: unknown field(s): ${unknown.join(", ")}`); continue; }
    ok++; console.log(`ok   ${id}`);
  }
}

// --- 3. consistency -----------------------------------------------------------------------
const problems = [];
const byKind = (k) => objects.filter((o) => o.kind === k);
const find = (kind, name, ns) => objects.find((o) => o.kind === kind && o.metadata?.name === name &&
  (o.metadata?.namespace ?? "") === (ns ?? ""));
const matches = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

for (const d of byKind("Deployment")) {
  const id = `Deployment/${d.metadata.name}`;
  const ns = d.metadata.namespace;
  const pod = d.spec.template;
  const podLabels = pod.metadata?.labels ?? {};
  if (!matches(d.spec.selector?.matchLabels, podLabels)) problems.push(`${id}: selector does not match its pod labels`);
  const spec = pod.spec;
  const sa = spec.serviceAccountName;
  if (sa && sa !== "default" && !find("ServiceAccount", sa, ns)) problems.push(`${id}: ServiceAccount ${sa} is not in the rendering`);
  const psc = spec.securityContext ?? {};
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const cid = `${id} container ${c.name}`;
    const sc = c.securityContext ?? {};
    if (!(sc.runAsNonRoot ?? psc.runAsNonRoot)) problems.push(`${cid}: runAsNonRoot is not set`);
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${cid}: readOnlyRootFilesystem is not true`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${cid}: allowPrivilegeEscalation is not false`);
    for (const r of ["requests", "limits"]) {
      for (const res of ["cpu", "memory"]) if (!c.resources?.[r]?.[res]) problems.push(`${cid}: no ${r}.${res}`);
    }
    for (const ref of c.envFrom ?? []) {
      if (ref.configMapRef && !ref.configMapRef.optional && !find("ConfigMap", ref.configMapRef.name, ns))
        problems.push(`${cid}: ConfigMap ${ref.configMapRef.name} is not in the rendering`);
    }
    const vols = new Set((spec.volumes ?? []).map((v) => v.name));
    for (const m of c.volumeMounts ?? []) if (!vols.has(m.name)) problems.push(`${cid}: mounts unknown volume ${m.name}`);
  }
  for (const c of spec.containers) {
    const cid = `${id} container ${c.name}`;
    for (const p of ["startupProbe", "readinessProbe", "livenessProbe"]) if (!c[p]) problems.push(`${cid}: no ${p}`);
    const ports = new Set((c.ports ?? []).map((p) => p.name));
    for (const p of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      const port = c[p]?.httpGet?.port;
      if (typeof port === "string" && !ports.has(port)) problems.push(`${cid}: ${p} uses unknown port ${port}`);
    }
    // Shutdown budget: preStop sleep + ptserve's exit timeout must fit in the grace period.
    const cmd = c.lifecycle?.preStop?.exec?.command ?? [];
    const sleep = cmd[0] === "sleep" ? Number(cmd[1]) : (c.lifecycle?.preStop?.sleep?.seconds ?? 0);
    let exitTimeout = 30; // ptserve's default
    for (const ref of c.envFrom ?? []) {
      const cm = ref.configMapRef && find("ConfigMap", ref.configMapRef.name, ns);
      if (cm?.data?.PTSERVE_EXIT_TIMEOUT_SECS) exitTimeout = Number(cm.data.PTSERVE_EXIT_TIMEOUT_SECS);
    }
    for (const e of c.env ?? []) if (e.name === "PTSERVE_EXIT_TIMEOUT_SECS" && e.value) exitTimeout = Number(e.value);
    const grace = spec.terminationGracePeriodSeconds ?? 30;
    if (grace < sleep + exitTimeout) problems.push(`${cid}: terminationGracePeriodSeconds ${grace} < preStop ${sleep} s + PTSERVE_EXIT_TIMEOUT_SECS ${exitTimeout} s`);
  }
  for (const v of spec.volumes ?? []) {
    const claim = v.persistentVolumeClaim?.claimName;
    if (claim && !find("PersistentVolumeClaim", claim, ns)) problems.push(`${id}: PVC ${claim} is not in the rendering`);
  }
  const services = byKind("Service").filter((s) => s.metadata.namespace === ns && matches(s.spec.selector, podLabels));
  if (!services.length) problems.push(`${id}: no Service selects its pods`);
  for (const s of services) {
    const ports = new Set(pod.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name)));
    for (const p of s.spec.ports) if (typeof p.targetPort === "string" && !ports.has(p.targetPort))
      problems.push(`Service/${s.metadata.name}: targetPort ${p.targetPort} is not a container port of ${id}`);
  }
  const pdbs = byKind("PodDisruptionBudget").filter((p) => p.metadata.namespace === ns && matches(p.spec.selector?.matchLabels, podLabels));
  if (!pdbs.length) problems.push(`${id}: no PodDisruptionBudget covers its pods`);
}
for (const h of byKind("HorizontalPodAutoscaler")) {
  const t = h.spec.scaleTargetRef;
  if (!find(t.kind, t.name, h.metadata.namespace)) problems.push(`HorizontalPodAutoscaler/${h.metadata.name}: target ${t.kind}/${t.name} is not in the rendering`);
  if (h.spec.minReplicas > h.spec.maxReplicas) problems.push(`HorizontalPodAutoscaler/${h.metadata.name}: minReplicas > maxReplicas`);
}
for (const m of byKind("ServiceMonitor")) {
  const svcs = byKind("Service").filter((s) => s.metadata.namespace === m.metadata.namespace && matches(m.spec.selector?.matchLabels, s.metadata.labels));
  if (!svcs.length) problems.push(`ServiceMonitor/${m.metadata.name}: selects no Service`);
  for (const e of m.spec.endpoints ?? []) for (const s of svcs)
    if (e.port && !s.spec.ports.some((p) => p.name === e.port)) problems.push(`ServiceMonitor/${m.metadata.name}: Service/${s.metadata.name} has no port named ${e.port}`);
}
for (const p of problems) console.log(`FAIL ${p}`);
bad += problems.length;
console.log(`${ok} valid, ${skipped} skipped (no schema), ${bad} failed; ${problems.length ? problems.length + " consistency problem(s)" : "consistency checks passed"}`);
process.exit(bad ? 1 : 0);
