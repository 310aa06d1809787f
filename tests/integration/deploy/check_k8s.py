#!/usr/bin/env python3
"""Checks the Kubernetes manifests of deploy/k8s against the services (no
cluster needed):

  - every YAML file parses, every object has apiVersion, kind and a name;
  - every kustomization lists every manifest beside it (as a resource or a
    patch), lists only files that exist, and patches only objects its
    resources define;
  - base: one Deployment and one Service per service, named after it, with
    the local stack's ports (`deploy/local/stack.sh describe`) as container
    ports, Service ports and environment; a gRPC readiness probe on the gRPC
    port, startup/liveness on the gRPC port too (grpc, or tcpSocket where the
    service's gRPC health follows Redis); requests and limits; the metrics
    port in the scrape annotation; Service selectors that select the pods;
  - the services the gateway calls behind headless Services (clusterIP:
    None), which the gateway dials as dns:///NAME:PORT so that its channels'
    round_robin reaches every ready pod (a cluster IP pins a connection to
    one pod);
  - an HPA for every stateless Deployment and none for training, each
    targeting an existing Deployment that leaves its replica count to it;
    training: one replica, Recreate, its state dir on a PersistentVolumeClaim;
  - the ConfigMap the pods read exists and holds only variables they read;
  - where `kubectl kustomize` works, each kustomization renders and the
    rendered overlays pass the same checks.

  check_k8s.py ROOT               check the repository at ROOT
  check_k8s.py ROOT --self-test   also break each part and expect a failure
"""

import copy
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_common as dc  # noqa: E402

yaml = dc.load_yaml_module()

STATEFUL = {"training"}


def load_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def key(obj):
    return (obj.get("kind"), (obj.get("metadata") or {}).get("name"))


def parse_tree(errs, k8s_dir):
    """{path: [objects]} of every YAML file; parse errors are failures."""
    files = {}
    for d, _, names in os.walk(k8s_dir):
        for n in sorted(names):
            if not n.endswith((".yaml", ".yml")):
                continue
            p = os.path.join(d, n)
            rel = os.path.relpath(p, k8s_dir)
            try:
                docs = load_docs(p)
            except yaml.YAMLError as e:
                errs.add(rel, f"does not parse: {e}")
                continue
            if not errs.check(docs, rel, "is empty"):
                continue
            for i, o in enumerate(docs):
                w = f"{rel}#{i}"
                if not errs.check(isinstance(o, dict), w, "is not a mapping"):
                    continue
                errs.check(o.get("apiVersion") and o.get("kind"), w, "has no apiVersion/kind")
                if o.get("kind") != "Kustomization":
                    errs.check((o.get("metadata") or {}).get("name"), w, "has no metadata.name")
            files[p] = docs
    return files


def resolve(errs, files, kdir, k8s_dir, seen=()):
    """The objects a kustomization's resources define (patches not applied),
    checking the kustomization's file list on the way."""
    rel = os.path.relpath(kdir, k8s_dir)
    kpath = os.path.join(kdir, "kustomization.yaml")
    if not errs.check(kpath in files, rel, "has no kustomization.yaml"):
        return []
    if kdir in seen:
        errs.add(rel, "includes itself")
        return []
    k = files[kpath][0]
    listed, objects = set(), []
    for r in k.get("resources", []) or []:
        p = os.path.normpath(os.path.join(kdir, r))
        if os.path.isdir(p):
            objects += resolve(errs, files, p, k8s_dir, seen + (kdir,))
        elif errs.check(p in files, f"{rel}/kustomization.yaml", f"resource {r} does not exist"):
            listed.add(p)
            objects += copy.deepcopy(files[p])
    patched = []
    for pt in k.get("patches", []) or []:
        if "path" in pt:
            p = os.path.normpath(os.path.join(kdir, pt["path"]))
            if errs.check(p in files, f"{rel}/kustomization.yaml", f"patch {pt['path']} does not exist"):
                listed.add(p)
                patched += [key(o) for o in files[p]]
        if "target" in pt:
            t = pt["target"]
            patched.append((t.get("kind"), t.get("name")))
    for p in k.get("patchesStrategicMerge", []) or []:
        p = os.path.normpath(os.path.join(kdir, p))
        if errs.check(p in files, f"{rel}/kustomization.yaml", f"patch {p} does not exist"):
            listed.add(p)
            patched += [key(o) for o in files[p]]
    have = {key(o) for o in objects}
    for kind, name in patched:
        errs.check((kind, name) in have, f"{rel}/kustomization.yaml", f"patches {kind}/{name}, which no resource defines")
    # Every manifest beside the kustomization is used.
    for p in files:
        if os.path.dirname(p) == kdir and os.path.basename(p) != "kustomization.yaml":
            errs.check(p in listed, f"{rel}/kustomization.yaml", f"does not list {os.path.basename(p)}")
    return objects


def kustomization_dirs(files):
    return sorted(os.path.dirname(p) for p in files if os.path.basename(p) == "kustomization.yaml")


def container_port(c, port):
    """A probe's or Service's port (number or name) as a container port number."""
    if isinstance(port, int):
        return port
    for p in c.get("ports", []) or []:
        if p.get("name") == port:
            return p.get("containerPort")
    return None


def probe_port(c, probe):
    for kind in ("grpc", "tcpSocket", "httpGet"):
        if kind in (probe or {}):
            return kind, container_port(c, probe[kind].get("port"))
    return None, None


def check_objects(errs, where, objects, desc, root, overlay=False):
    by = {}
    for o in objects:
        by.setdefault(o.get("kind"), {})[(o.get("metadata") or {}).get("name")] = o
    deps = by.get("Deployment", {})
    svcs = by.get("Service", {})
    hpas = by.get("HorizontalPodAutoscaler", {})
    cms = by.get("ConfigMap", {})
    pvcs = by.get("PersistentVolumeClaim", {})
    for name in dc.SERVICES:
        w = f"{where} Deployment/{name}"
        s = desc["services"][name]
        d = deps.get(name)
        if not errs.check(d is not None, where, f"no Deployment {name}"):
            continue
        spec = d.get("spec") or {}
        pod = (spec.get("template") or {}).get("spec") or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        cs = [c for c in pod.get("containers", []) or [] if c.get("name") == name]
        if not errs.check(len(cs) == 1, w, f"should have one container named {name}"):
            continue
        c = cs[0]
        errs.check((c.get("command") or c.get("args") or [None])[0] == s["binary"], w, f"should run {s['binary']}")
        errs.check(str(c.get("image", "")).split(":")[0].split("/")[-1] == "recstack", w, "should run the recstack image")
        # Container ports: exactly the local stack's, named.
        want = {"grpc": s["grpc_port"], "metrics": s["metrics_port"]}
        if "http_port" in s:
            want["http"] = s["http_port"]
        got = {p.get("name"): p.get("containerPort") for p in c.get("ports", []) or []}
        errs.check(got == want, w, f"container ports should be {want} (are {got})")
        # Probes.
        kind, port = probe_port(c, c.get("readinessProbe"))
        errs.check(kind == "grpc" and port == s["grpc_port"], w,
                   f"readinessProbe should be grpc on {s['grpc_port']} (is {kind} on {port})")
        # Startup and liveness: gRPC health of the `liveness` name, which
        # stays SERVING while the process runs (readiness follows Redis).
        live = dc.liveness_name(root)
        errs.check(live is not None, w, "common/grpc/server.h should define kLivenessService")
        for probe in ("livenessProbe", "startupProbe"):
            if probe == "startupProbe" and not c.get(probe):
                continue
            kind, port = probe_port(c, c.get(probe))
            service = ((c.get(probe) or {}).get("grpc") or {}).get("service")
            errs.check(kind == "grpc" and port == s["grpc_port"] and service == live, w,
                       f"{probe} should be grpc on {s['grpc_port']} asking for '{live}' "
                       f"(is {kind} on {port}, service {service!r})")
        # Resources.
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                errs.check((res.get(part) or {}).get(r), w, f"no resources.{part}.{r}")
        ann = ((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}
        errs.check(str(ann.get("prometheus.io/port")) == str(s["metrics_port"]), w,
                   f"prometheus.io/port should be {s['metrics_port']}")
        # Environment: the Deployment's own, then the ConfigMaps it reads.
        env = {e["name"]: e.get("value") for e in c.get("env", []) or [] if "name" in e}
        for ef in c.get("envFrom", []) or []:
            ref = (ef.get("configMapRef") or {}).get("name")
            if ref is None:
                continue
            cm = cms.get(ref)
            if errs.check(cm is not None, w, f"reads ConfigMap {ref}, which is not defined"):
                for k2, v in (cm.get("data") or {}).items():
                    env.setdefault(k2, v)
        mounts = {m.get("mountPath") for m in c.get("volumeMounts", []) or []}
        redis_host = None
        url = str(env.get("RECSTACK_REDIS_URL", ""))
        if url.startswith("redis://"):
            redis_host = url[len("redis://"):].split("@")[-1].split(":")[0].split("/")[0]
        elif url.startswith("redis-cluster://"):
            # POD.SERVICE:PORT,...: the headless Service must be in the overlay.
            first = url[len("redis-cluster://"):].split("@")[-1].split(",")[0].split(":")[0]
            redis_host = first.split(".", 1)[-1]
            errs.check(redis_host in svcs, w, f"RECSTACK_REDIS_URL names Service {redis_host}, which is not defined")
        dc.check_service_env(errs, w, name, desc, env, root, redis_host=redis_host, mounts=mounts,
                             peer_target="dns:///{peer}:{port}")
        # The Service: selects these pods, exposes the same ports.
        sv = svcs.get(name)
        if errs.check(sv is not None, where, f"no Service {name}"):
            sel = (sv.get("spec") or {}).get("selector") or {}
            errs.check(sel and all(labels.get(k2) == v for k2, v in sel.items()), f"{where} Service/{name}",
                       f"selector {sel} does not select the {name} pods ({labels})")
            sports = {}
            for p in (sv.get("spec") or {}).get("ports", []) or []:
                target = container_port(c, p.get("targetPort", p.get("port")))
                errs.check(target == p.get("port"), f"{where} Service/{name}",
                           f"port {p.get('name')} {p.get('port')} goes to container port {target}")
                sports[p.get("name")] = p.get("port")
            errs.check(sports == want, f"{where} Service/{name}", f"ports should be {want} (are {sports})")
            if name in dc.gateway_peers(desc):
                errs.check((sv.get("spec") or {}).get("clusterIP") == "None", f"{where} Service/{name}",
                           "should be headless (clusterIP: None): the gateway calls it, and a cluster IP "
                           "pins each gateway connection to one pod")
        # Replicas and scaling.
        if name in STATEFUL:
            errs.check(spec.get("replicas") == 1, w, "must run exactly one replica")
            errs.check((spec.get("strategy") or {}).get("type") == "Recreate", w,
                       "needs strategy Recreate: two pods must never share the state volume")
            state = env.get("RECSTACK_STATE_DIR")
            vols = {v.get("name"): v for v in pod.get("volumes", []) or []}
            mount = next((m for m in c.get("volumeMounts", []) or [] if m.get("mountPath") == state), None)
            claim = ((vols.get((mount or {}).get("name")) or {}).get("persistentVolumeClaim") or {}).get("claimName")
            errs.check(claim is not None, w, f"{state} should be a PersistentVolumeClaim")
            if claim is not None:
                errs.check(claim in pvcs, w, f"claims {claim}, which is not defined")
    for hname, h in hpas.items():
        ref = (h.get("spec") or {}).get("scaleTargetRef") or {}
        w = f"{where} HorizontalPodAutoscaler/{hname}"
        errs.check(ref.get("kind") == "Deployment" and ref.get("name") in deps, w,
                   f"targets {ref.get('kind')}/{ref.get('name')}, which is not a Deployment here")
        errs.check(ref.get("name") not in STATEFUL, w, f"{ref.get('name')} is stateful: one replica, no autoscaling")
        spec = h.get("spec") or {}
        errs.check(1 <= (spec.get("minReplicas") or 1) <= (spec.get("maxReplicas") or 0), w, "min/maxReplicas are wrong")
        errs.check(spec.get("metrics"), w, "has no metrics")
        d = deps.get(ref.get("name"))
        if d is not None and not overlay:
            errs.check("replicas" not in (d.get("spec") or {}), w,
                       f"Deployment {ref.get('name')} sets replicas: re-applying would undo the autoscaler")
    targets = {((h.get("spec") or {}).get("scaleTargetRef") or {}).get("name") for h in hpas.values()}
    for name in dc.SERVICES:
        if name not in STATEFUL:
            errs.check(name in targets, where, f"no HorizontalPodAutoscaler for {name}")
    # ConfigMaps: only variables some service reads.
    readable = set()
    for name in dc.SERVICES:
        readable |= dc.service_env_names(root, name)
    for cname, cm in cms.items():
        for k2 in (cm.get("data") or {}):
            errs.check(k2 in readable, f"{where} ConfigMap/{cname}", f"{k2} is not a variable any service reads")


def rendered(errs, kdir, k8s_dir):
    """`kubectl kustomize` of a kustomization, or None without kubectl."""
    exe = shutil.which("kubectl")
    if exe is None:
        return None
    r = subprocess.run([exe, "kustomize", kdir], capture_output=True, text=True)
    if r.returncode != 0:
        errs.add(os.path.relpath(kdir, k8s_dir), f"kubectl kustomize fails: {r.stderr.strip()}")
        return None
    return [d for d in yaml.safe_load_all(r.stdout) if d is not None]


def run_checks(files, desc, root, render=True):
    errs = dc.Errors()
    k8s_dir = os.path.join(root, "deploy/k8s")
    for p, docs in files.items():
        for i, o in enumerate(docs):
            if not isinstance(o, dict) or not o.get("kind") or (o.get("kind") != "Kustomization" and
                                                               not (o.get("metadata") or {}).get("name")):
                errs.add(f"{os.path.relpath(p, k8s_dir)}#{i}", "is not a named Kubernetes object")
    kdirs = kustomization_dirs(files)
    base = os.path.join(k8s_dir, "base")
    errs.check(base in kdirs, "deploy/k8s", "has no base/kustomization.yaml")
    for kdir in kdirs:
        objects = resolve(errs, files, kdir, k8s_dir)
        if kdir == base:
            check_objects(errs, "base", objects, desc, root)
    # Every manifest belongs to some kustomization.
    for p in files:
        errs.check(os.path.dirname(p) in kdirs, os.path.relpath(p, k8s_dir), "is in no kustomization's folder")
    if render:
        for kdir in kdirs:
            objs = rendered(errs, kdir, k8s_dir)
            if objs is not None and kdir != base:
                check_objects(errs, os.path.relpath(kdir, k8s_dir), objs, desc, root, overlay=True)
    return errs


def self_test(files, desc, root):
    k8s = os.path.join(root, "deploy/k8s/base")

    def find(f, path, kind, name):
        for o in f[os.path.join(k8s, path)]:
            if key(o) == (kind, name):
                return o
        raise KeyError((kind, name))

    def container(f, name):
        return find(f, f"{name}.yaml", "Deployment", name)["spec"]["template"]["spec"]["containers"][0]

    def set_port(f, name, pname, value):
        for p in container(f, name)["ports"]:
            if p["name"] == pname:
                p["containerPort"] = value

    def hpa(f, name):
        return find(f, "hpa.yaml", "HorizontalPodAutoscaler", name)

    cases = {
        "retrieval container gRPC port 50063": lambda f: set_port(f, "retrieval", "grpc", 50063),
        "gateway container metrics port 9101": lambda f: set_port(f, "gateway", "metrics", 9101),
        "ranking readiness probe on 50053": lambda f: container(f, "ranking")["readinessProbe"].update(grpc={"port": 50053}),
        "gateway liveness probe on 8080": lambda f: container(f, "gateway")["livenessProbe"].update(grpc={"port": 8080}),
        "ingestion liveness on gRPC health of '' (follows Redis)": lambda f: container(f, "ingestion").update(
            livenessProbe={"grpc": {"port": 50051}}),
        "training without readiness probe": lambda f: container(f, "training").pop("readinessProbe"),
        "ingestion Service port 50052": lambda f: find(f, "ingestion.yaml", "Service", "ingestion")["spec"]["ports"][0].update(port=50052),
        "ranking Service selects retrieval": lambda f: find(f, "ranking.yaml", "Service", "ranking")["spec"]["selector"].update(
            {"app.kubernetes.io/component": "retrieval"}),
        "gateway calls retrieval on 50054": lambda f: [e.update(value="dns:///retrieval:50054") for e in container(f, "gateway")["env"]
                                                      if e["name"] == "RECSTACK_RETRIEVAL_ADDR"],
        "gateway calls ranking without dns:///": lambda f: [e.update(value="ranking:50054") for e in container(f, "gateway")["env"]
                                                           if e["name"] == "RECSTACK_RANKING_ADDR"],
        "retrieval Service with a cluster IP": lambda f: find(f, "retrieval.yaml", "Service", "retrieval")["spec"].pop("clusterIP"),
        "training Service with a cluster IP": lambda f: find(f, "training.yaml", "Service", "training")["spec"].update(
            clusterIP="10.96.0.10"),
        "HPA targets a Deployment that does not exist": lambda f: hpa(f, "ranking")["spec"]["scaleTargetRef"].update(name="rankers"),
        "HPA on training": lambda f: hpa(f, "ranking")["spec"]["scaleTargetRef"].update(name="training"),
        "gateway with replicas under an HPA": lambda f: find(f, "gateway.yaml", "Deployment", "gateway")["spec"].update(replicas=3),
        "training with two replicas": lambda f: find(f, "training.yaml", "Deployment", "training")["spec"].update(replicas=2),
        "no resources on retrieval": lambda f: container(f, "retrieval").pop("resources"),
        "metrics annotation 9100 on ranking": lambda f: find(f, "ranking.yaml", "Deployment", "ranking")["spec"]["template"]["metadata"]["annotations"].update(
            {"prometheus.io/port": "9100"}),
        "ConfigMap with a variable nobody reads": lambda f: find(f, "configmap.yaml", "ConfigMap", "recstack-config")["data"].update(
            RECSTACK_REDIS_ADDR="x"),
        "kustomization does not list hpa.yaml": lambda f: f[os.path.join(k8s, "kustomization.yaml")][0]["resources"].remove("hpa.yaml"),
        "kustomization lists a missing file": lambda f: f[os.path.join(k8s, "kustomization.yaml")][0]["resources"].append("pdb.yaml"),
    }
    def errors_after(mutate):
        f = copy.deepcopy(files)
        mutate(f)
        return run_checks(f, desc, root, render=False).items

    return dc.run_self_test(cases, errors_after, set(run_checks(files, desc, root, render=False).items))


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../.."))
    desc = dc.describe(root)
    errs = dc.Errors()
    files = parse_tree(errs, os.path.join(root, "deploy/k8s"))
    errs.items += run_checks(files, desc, root).items
    if shutil.which("kubectl") is None:
        print("check_k8s: note: no kubectl; overlays checked for structure only, not rendered")
    code = errs.report("check_k8s")
    if "--self-test" in sys.argv[2:]:
        if self_test(files, desc, root):
            code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
