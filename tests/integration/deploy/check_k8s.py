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
  - TLS (an overlay that sets RECSTACK_TLS_*, e.g. overlays/tls): every
    service gets all three variables (as `stack.sh describe --tls` does),
    each a file of its own kubernetes.io/tls Secret (tls.crt, tls.key,
    ca.crt) mounted read-only, one Secret per service; the probes are
    `recstack health --addr 127.0.0.1:PORT` execs (the kubelet's gRPC probes
    speak plaintext); and where kubectl and openssl are there, the Secrets
    make-secrets.sh prints are the ones mounted, each certificate signed by
    the CA, matching its key and naming what its clients dial (the Service
    name the gateway calls, 127.0.0.1 for the probes);
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

import base64
import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile

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
    if "exec" in (probe or {}):
        kind, port, _ = health_exec(probe)
        return kind, port
    return None, None


def health_exec(probe):
    """("exec", port, service) of a `recstack health --addr 127.0.0.1:PORT
    [--service NAME]` exec probe; ("exec", None, None) for any other command."""
    cmd = [str(a) for a in ((probe or {}).get("exec") or {}).get("command") or []]
    if cmd[:3] != ["recstack", "health", "--addr"] or len(cmd) < 4:
        return "exec", None, None
    host, port = dc.hostport(cmd[3])
    rest = cmd[4:]
    if host != "127.0.0.1" or (rest and (len(rest) != 2 or rest[0] != "--service")):
        return "exec", None, None
    return "exec", port, rest[1] if rest else ""


def probe_service(c, probe):
    """The gRPC health name a grpc or exec probe asks ("" = the server)."""
    if "grpc" in (probe or {}):
        return probe["grpc"].get("service") or ""
    if "exec" in (probe or {}):
        return health_exec(probe)[2]
    return None


# The files of a kubernetes.io/tls Secret each variable must name.
TLS_FILES = {"RECSTACK_TLS_CERT": "tls.crt", "RECSTACK_TLS_KEY": "tls.key", "RECSTACK_TLS_CA": "ca.crt"}


def check_tls(errs, w, c, pod, env):
    """A container with TLS: its three files from one Secret, mounted
    read-only. Returns the Secret's name (None when not found)."""
    errs.check(all(k in env for k in dc.TLS_ENV), w,
               f"has {[k for k in dc.TLS_ENV if k in env]} but TLS needs all of {list(dc.TLS_ENV)}")
    vols = {v.get("name"): v for v in pod.get("volumes", []) or []}
    secrets = set()
    for key, base in TLS_FILES.items():
        path = str(env.get(key) or "")
        if not path:
            continue
        folder, _, fname = path.rpartition("/")
        errs.check(fname == base, w, f"{key}={path}: the Secret's file is {base} (kubernetes.io/tls)")
        mount = next((m for m in c.get("volumeMounts", []) or [] if m.get("mountPath") == folder), None)
        if not errs.check(mount is not None, w, f"{key}={path}: no volume is mounted at {folder}"):
            continue
        errs.check(mount.get("readOnly") is True, w, f"{folder} (TLS files) should be mounted readOnly")
        secret = ((vols.get(mount.get("name")) or {}).get("secret") or {}).get("secretName")
        if errs.check(secret is not None, w, f"{folder} should be a Secret volume"):
            secrets.add(secret)
    errs.check(len(secrets) <= 1, w, f"TLS files from several Secrets {sorted(secrets)}")
    return next(iter(secrets)) if len(secrets) == 1 else None


def check_objects(errs, where, objects, desc, root, overlay=False):
    """The checks of every Deployment, Service, HPA and ConfigMap; returns
    {service: Secret} of the TLS files when the objects give services TLS."""
    by = {}
    for o in objects:
        by.setdefault(o.get("kind"), {})[(o.get("metadata") or {}).get("name")] = o
    deps = by.get("Deployment", {})
    svcs = by.get("Service", {})
    hpas = by.get("HorizontalPodAutoscaler", {})
    cms = by.get("ConfigMap", {})
    pvcs = by.get("PersistentVolumeClaim", {})
    tls_secrets = {}  # service -> the Secret its TLS files come from
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
        tls = any(k in env for k in dc.TLS_ENV)
        if tls:
            tls_secrets[name] = check_tls(errs, w, c, pod, env)
        # Probes: gRPC health on the gRPC port; with TLS an exec of `recstack
        # health` (the kubelet's gRPC probes cannot do TLS; the CLI reads the
        # pod's RECSTACK_TLS_* and shows its certificate).
        want_kind, how = ("exec", "a `recstack health --addr 127.0.0.1:PORT` exec") if tls else ("grpc", "grpc")
        kind, port = probe_port(c, c.get("readinessProbe"))
        service = probe_service(c, c.get("readinessProbe"))
        errs.check(kind == want_kind and port == s["grpc_port"] and service == "", w,
                   f"readinessProbe should be {how} on {s['grpc_port']} (is {kind} on {port}, service {service!r})")
        # Startup and liveness: gRPC health of the `liveness` name, which
        # stays SERVING while the process runs (readiness follows Redis).
        live = dc.liveness_name(root)
        errs.check(live is not None, w, "common/grpc/server.h should define kLivenessService")
        for probe in ("livenessProbe", "startupProbe"):
            if probe == "startupProbe" and not c.get(probe):
                continue
            kind, port = probe_port(c, c.get(probe))
            service = probe_service(c, c.get(probe))
            errs.check(kind == want_kind and port == s["grpc_port"] and service == live, w,
                       f"{probe} should be {how} on {s['grpc_port']} asking for '{live}' "
                       f"(is {kind} on {port}, service {service!r})")
        # Resources.
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                errs.check((res.get(part) or {}).get(r), w, f"no resources.{part}.{r}")
        ann = ((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}
        errs.check(str(ann.get("prometheus.io/port")) == str(s["metrics_port"]), w,
                   f"prometheus.io/port should be {s['metrics_port']}")
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
    if tls_secrets:
        errs.check(set(tls_secrets) == set(dc.SERVICES), where,
                   f"TLS for {sorted(tls_secrets)} only: every service must serve it (its peers dial TLS)")
        by_secret = {}
        for svc, sec in tls_secrets.items():
            if sec is not None:
                by_secret.setdefault(sec, []).append(svc)
        for sec, users in by_secret.items():
            errs.check(len(users) == 1, where, f"Secret {sec} is mounted by {users}: one per service "
                       "(a certificate names its service)")
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
    return tls_secrets


def uses_tls(objects):
    """Some Deployment sets a RECSTACK_TLS_* variable."""
    for o in objects:
        if o.get("kind") != "Deployment":
            continue
        for c in (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers", []) or []:
            if any(e.get("name") in dc.TLS_ENV for e in c.get("env", []) or []):
                return True
    return False


def openssl(*args, stdin=None):
    r = subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True)
    return r.returncode, r.stdout


_made_secrets = {}


def made_secrets(root, namespace):
    """{name: facts} of each Secret `make-secrets.sh --namespace NS` prints
    (type, namespace, keys, whether tls.crt is signed by ca.crt and matches
    tls.key, the names the certificate carries), "client.pem" -> whether the
    folder keeps a client certificate; or an error string. Made once per run."""
    if namespace in _made_secrets:
        return _made_secrets[namespace]
    script = os.path.join(root, "deploy/k8s/overlays/tls/make-secrets.sh")
    if not os.access(script, os.X_OK):
        return "deploy/k8s/overlays/tls/make-secrets.sh is missing"
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([script, "--namespace", namespace, os.path.join(tmp, "certs")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return f"make-secrets.sh fails: {r.stderr.strip()}"
        out["client.pem"] = os.path.isfile(os.path.join(tmp, "certs", "client.pem"))
        for sec in yaml.safe_load_all(r.stdout):
            if not sec:
                continue
            data = sec.get("data") or {}
            facts = {"type": sec.get("type"), "namespace": (sec.get("metadata") or {}).get("namespace"),
                     "keys": sorted(data)}
            if set(data) == set(TLS_FILES.values()):
                files = {}
                for k, v in data.items():
                    files[k] = os.path.join(tmp, f"{sec['metadata']['name']}-{k}")
                    with open(files[k], "wb") as f:
                        f.write(base64.b64decode(v))
                facts["signed"] = openssl("verify", "-CAfile", files["ca.crt"], files["tls.crt"])[0] == 0
                pub_cert = openssl("x509", "-in", files["tls.crt"], "-noout", "-pubkey")[1]
                facts["key_matches"] = bool(pub_cert) and pub_cert == openssl("pkey", "-in", files["tls.key"], "-pubout")[1]
                san = openssl("x509", "-in", files["tls.crt"], "-noout", "-ext", "subjectAltName")[1]
                facts["names"] = sorted(set(re.findall(r"(?:DNS|IP Address):([^,\s]+)", san)))
            out[sec["metadata"]["name"]] = facts
    _made_secrets[namespace] = out
    return out


def check_tls_secrets(errs, where, objects, tls_secrets, root):
    """The Secrets make-secrets.sh prints against what the overlay mounts: one
    kubernetes.io/tls Secret per service, each certificate signed by its CA,
    matching its key and naming what its clients dial."""
    if shutil.which("kubectl") is None or shutil.which("openssl") is None:
        print("check_k8s: note: no kubectl or openssl; make-secrets.sh not run")
        return
    ns = next((o["metadata"].get("namespace") for o in objects if o.get("kind") == "Deployment"), None) or "recstack"
    secrets = made_secrets(root, ns)
    if not errs.check(isinstance(secrets, dict), where, secrets):
        return
    errs.check(secrets["client.pem"], where, "make-secrets.sh leaves no client.pem for clients outside the cluster")
    gw_env = {}
    for o in objects:
        if o.get("kind") == "Deployment" and o["metadata"]["name"] == "gateway":
            for c in o["spec"]["template"]["spec"]["containers"]:
                gw_env = {e["name"]: e.get("value") for e in c.get("env", []) or [] if "name" in e}
    made = sorted(k for k in secrets if k != "client.pem")
    for svc, name in sorted(tls_secrets.items()):
        if name is None:
            continue
        w = f"{where} Secret/{name}"
        sec = secrets.get(name)
        if not errs.check(sec is not None and name != "client.pem", w, f"{svc} mounts it; make-secrets.sh makes {made}"):
            continue
        errs.check(sec["type"] == "kubernetes.io/tls", w, f"type should be kubernetes.io/tls ({sec['type']})")
        errs.check(sec["namespace"] == ns, w, f"namespace should be {ns} ({sec['namespace']})")
        if not errs.check(sec["keys"] == sorted(TLS_FILES.values()), w,
                          f"keys should be {sorted(TLS_FILES.values())} (are {sec['keys']})"):
            continue
        errs.check(sec["signed"], w, "tls.crt is not signed by ca.crt")
        errs.check(sec["key_matches"], w, "tls.key does not match tls.crt")
        # The probes dial 127.0.0.1; the gateway dials each peer by the host
        # of its RECSTACK_*_ADDR (dns:///NAME:PORT), and the certificate must
        # name the service it is mounted by.
        want = {"127.0.0.1", svc}
        for key, value in gw_env.items():
            if key.endswith("_ADDR") and key[len("RECSTACK_"):-len("_ADDR")].lower() == svc:
                want.add(dc.hostport(re.sub(r"^dns:(//[^/]*/)?", "", str(value)))[0])
        errs.check(want <= set(sec["names"]), w, f"the certificate names {sec['names']}, not all of {sorted(want)}")


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


def run_checks(files, desc, root, render=True, desc_tls=None):
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
                where = os.path.relpath(kdir, k8s_dir)
                tls = uses_tls(objs)
                # An overlay with TLS gives every service what `describe --tls` does.
                secrets = check_objects(errs, where, objs, desc_tls if tls else desc, root, overlay=True)
                if tls:
                    check_tls_secrets(errs, where, objs, secrets, root)
    return errs


def self_test(files, desc, root, desc_tls=None):
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

    failed = dc.run_self_test(cases, errors_after, set(run_checks(files, desc, root, render=False).items))
    # The TLS overlay, rendered (needs kubectl), broken one way at a time.
    tls_dir = os.path.join(root, "deploy/k8s/overlays/tls")
    errs = dc.Errors()
    objs = rendered(errs, tls_dir, os.path.join(root, "deploy/k8s")) if os.path.isdir(tls_dir) else None
    if objs is None:
        print("self-test: note: overlays/tls not rendered (no kubectl); its breaks not tried")
        return failed

    def dep(o, name):
        return next(x for x in o if x.get("kind") == "Deployment" and x["metadata"]["name"] == name)

    def tc(o, name):
        return dep(o, name)["spec"]["template"]["spec"]["containers"][0]

    def set_env(o, name, key, value=None):
        c = tc(o, name)
        c["env"] = [e for e in c["env"] if e["name"] != key] + ([{"name": key, "value": value}] if value else [])

    def plaintext_retrieval(o):
        for k in dc.TLS_ENV:
            set_env(o, "retrieval", k)
        tc(o, "retrieval").update(readinessProbe={"grpc": {"port": 50053}},
                                  livenessProbe={"grpc": {"port": 50053, "service": "liveness"}},
                                  startupProbe={"grpc": {"port": 50053, "service": "liveness"}})

    tls_cases = {
        "tls: gateway readiness back to a plaintext gRPC probe": lambda o: tc(o, "gateway").update(
            readinessProbe={"grpc": {"port": 50050}}),
        "tls: ranking liveness exec without --service liveness": lambda o: tc(o, "ranking")["livenessProbe"].update(
            exec={"command": ["recstack", "health", "--addr", "127.0.0.1:50054"]}),
        "tls: retrieval readiness exec on training's port": lambda o: tc(o, "retrieval")["readinessProbe"].update(
            exec={"command": ["recstack", "health", "--addr", "127.0.0.1:50052"]}),
        "tls: ingestion without RECSTACK_TLS_CA": lambda o: set_env(o, "ingestion", "RECSTACK_TLS_CA"),
        "tls: training's key outside the Secret": lambda o: set_env(o, "training", "RECSTACK_TLS_KEY", "/tmp/tls.key"),
        "tls: gateway's certificate as ca.crt": lambda o: set_env(o, "gateway", "RECSTACK_TLS_CERT", "/etc/recstack/tls/ca.crt"),
        "tls: ranking mounts retrieval's Secret": lambda o: next(
            v for v in dep(o, "ranking")["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls")["secret"].update(
            secretName="recstack-tls-retrieval"),
        "tls: a Secret make-secrets.sh does not make": lambda o: next(
            v for v in dep(o, "ingestion")["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls")["secret"].update(
            secretName="recstack-tls-ingest"),
        "tls: the Secret mounted writable": lambda o: next(
            m for m in tc(o, "gateway")["volumeMounts"] if m["name"] == "tls").update(readOnly=False),
        "tls: retrieval without TLS": plaintext_retrieval,
    }

    def tls_errors(o):
        e = dc.Errors()
        secrets = check_objects(e, "overlays/tls", o, desc_tls, root, overlay=True)
        check_tls_secrets(e, "overlays/tls", o, secrets, root)
        return e.items

    def tls_errors_after(mutate):
        o = copy.deepcopy(objs)
        mutate(o)
        return tls_errors(o)

    return failed + dc.run_self_test(tls_cases, tls_errors_after, set(tls_errors(objs)))


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../.."))
    desc = dc.describe(root)
    desc_tls = dc.describe(root, "--tls")
    errs = dc.Errors()
    files = parse_tree(errs, os.path.join(root, "deploy/k8s"))
    errs.items += run_checks(files, desc, root, desc_tls=desc_tls).items
    if shutil.which("kubectl") is None:
        print("check_k8s: note: no kubectl; overlays checked for structure only, not rendered")
    code = errs.report("check_k8s")
    if "--self-test" in sys.argv[2:]:
        if self_test(files, desc, root, desc_tls):
            code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
