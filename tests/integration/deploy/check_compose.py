#!/usr/bin/env python3
"""Checks deploy/docker-compose.yml, deploy/docker/ and the Grafana dashboard
against the local stack and the code (no Docker engine needed):

  - `docker-compose config` accepts the file (what it prints is what is checked);
  - redis and the five services are there, each with the local stack's
    binary, published ports (same number inside and out) and RECSTACK_*
    variables (`deploy/local/stack.sh describe --split`), peers by service name, a
    health check on its gRPC port, and the dependencies it calls;
  - Prometheus mounts deploy/docker/prometheus.yml, which scrapes every
    service's metrics port and nothing else of recstack's;
  - Grafana mounts the provisioning and the dashboard; the dashboard JSON
    parses, uses the provisioned data source, and queries only metric names
    and labels that the services register, covering what the issue asks for;
  - the load generator is an optional profile with the agreed flags, Grafana
    (not packaged by Debian) the `grafana` profile;
  - every other service is built here, from a Dockerfile under deploy/docker/
    on Debian 12, and runs with a read-only root filesystem;
  - the Dockerfile builds with scripts/deps.sh and options the top-level
    CMakeLists.txt has, and every binary compose runs is a target;
  - with deploy/docker-compose.tls.yml on top, the stack passes the same
    checks and every service (and the load-test profile's clients) gets
    RECSTACK_TLS_CERT, _KEY and _CA (as `stack.sh describe --tls` gives them),
    each a Compose secret of its own certificate (NAME.pem, NAME-key.pem) and
    the CA from one folder, git-ignored; the certificates
    deploy/tls/make-certs.sh makes for it are signed by the CA and name the
    service (what its peers dial) and 127.0.0.1 (its health check).

  check_compose.py ROOT            check the repository at ROOT
  check_compose.py ROOT --self-test   also break each part and expect a failure
"""

import copy
import json
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

LOADTEST_FLAGS = ["--addr", "--rate", "--duration", "--warmup", "--connections", "--dataset", "--mix", "--json"]
# Flags that take no value.
LOADTEST_SWITCHES = {"--json"}
# What the dashboard must show (the list), as metric names.
DASHBOARD_MUST_QUERY = {
    "request rate and errors": "recstack_rpc_requests_total",
    "latency per service": "recstack_rpc_latency_seconds_bucket",
    "latency per stage": "recstack_gateway_stage_latency_seconds_bucket",
    "degraded answers": "recstack_gateway_degraded_total",
    "cache hit ratio": "recstack_retrieval_user_cache",
    "model version": "recstack_retrieval_model_version",
    "training loss": "recstack_training_loss",
}
# Labels Prometheus itself adds or a histogram has.
BUILTIN_LABELS = {"le", "job", "instance", "quantile", "__name__"}
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
}


TLS_FILE = "deploy/docker-compose.tls.yml"
# The certificates the TLS file's secrets name: every service's, and the
# load-test profile's clients' (seed and loadtest share one).
TLS_CLIENTS = {"seed": "loadtest", "loadtest": "loadtest"}


def compose_config(root, *extra, env_add=None):
    """The file (and `extra` files on top) as docker-compose resolves it
    (interpolation, anchors, paths)."""
    exe = shutil.which("docker-compose")
    if exe is None:
        sys.exit("docker-compose is missing: run scripts/deps.sh")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECSTACK_", "COMPOSE_"))}
    env.update(env_add or {})
    files = []
    for f in ("deploy/docker-compose.yml",) + extra:
        files += ["-f", os.path.join(root, f)]
    r = subprocess.run([exe, *files, "config"], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"docker-compose config failed:\n{r.stderr}")
    return yaml.safe_load(r.stdout)


def published(svc):
    """[(host_ip, host_port, container_port)] of a compose service."""
    out = []
    for p in svc.get("ports", []) or []:
        if isinstance(p, dict):
            out.append((p.get("host_ip", ""), int(p.get("published", 0)), int(p["target"])))
            continue
        spec = str(p).split("/")[0]
        parts = spec.split(":")
        if len(parts) == 3:
            out.append((parts[0], int(parts[1]), int(parts[2])))
        elif len(parts) == 2:
            out.append(("", int(parts[0]), int(parts[1])))
        else:
            out.append(("", 0, int(parts[0])))
    return out


def mounts(svc):
    """{target: source} of a compose service's volumes."""
    out = {}
    for v in svc.get("volumes", []) or []:
        if isinstance(v, dict):
            out[v["target"]] = v.get("source", "")
        else:
            parts = str(v).split(":")
            if len(parts) >= 2:
                out[parts[1]] = parts[0]
            else:
                out[parts[0]] = ""
    return out


def as_list(cmd):
    if cmd is None:
        return []
    return cmd if isinstance(cmd, list) else str(cmd).split()


def depends(svc):
    d = svc.get("depends_on") or {}
    return set(d) if isinstance(d, (list, dict)) else set()


def transitive_depends(services, name):
    seen, todo = set(), [name]
    while todo:
        for d in depends(services.get(todo.pop(), {})):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def check_services(errs, cfg, desc, root):
    services = cfg.get("services", {})
    redis = services.get("redis")
    if errs.check(redis is not None, "compose", "no redis service"):
        port = desc["redis"]["port"]
        pub = published(redis)
        errs.check(any(h == port and c == port for _, h, c in pub), "compose redis",
                   f"should publish {port}:{port} like the local stack (has {pub})")
        errs.check(str(port) in " ".join(as_list(redis.get("command"))) or port == 6379, "compose redis",
                   f"redis-server should listen on {port}")
    images = set()
    for name in dc.SERVICES:
        where = f"compose {name}"
        svc = services.get(name)
        if not errs.check(svc is not None, "compose", f"no {name} service"):
            continue
        s = desc["services"][name]
        cmd = as_list(svc.get("command"))
        errs.check(cmd[:1] == [s["binary"]], where, f"command should start with {s['binary']} (has {cmd})")
        images.add(svc.get("image"))
        build = svc.get("build") or {}
        if errs.check(bool(build), where, "has no build section"):
            df = os.path.join(build.get("context", ""), build.get("dockerfile", "Dockerfile"))
            errs.check(os.path.realpath(df) == os.path.realpath(os.path.join(root, "deploy/docker/Dockerfile")),
                       where, f"should build deploy/docker/Dockerfile (builds {df})")
        # Ports: every port the local stack gives it, the same number outside.
        want = {s["grpc_port"], s["metrics_port"]} | ({s["http_port"]} if "http_port" in s else set())
        pub = published(svc)
        for p in sorted(want):
            errs.check(any(h == p and c == p for _, h, c in pub), where,
                       f"should publish {p}:{p} like the local stack (has {[(h, c) for _, h, c in pub]})")
        for _, h, c in pub:
            errs.check(c in want, where, f"publishes {c}, which the local stack does not use for {name}")
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        dc.check_service_env(errs, where, name, desc, env, root, mounts=set(mounts(svc)))
        # Health: `recstack health` on its own gRPC port.
        test = " ".join(as_list((svc.get("healthcheck") or {}).get("test")))
        errs.check("health" in test and re.search(rf"(127\.0\.0\.1|localhost):{s['grpc_port']}\b", test), where,
                   f"healthcheck should be `recstack health --addr 127.0.0.1:{s['grpc_port']}` (is {test!r})")
        # Dependencies: Redis, and every peer it calls.
        deps = depends(svc)
        if "RECSTACK_REDIS_URL" in s["env"]:
            errs.check("redis" in transitive_depends(services, name), where, "should depend on redis")
        for key in s["env"]:
            if key.endswith("_ADDR"):
                peer = key[len("RECSTACK_"):-len("_ADDR")].lower()
                errs.check(peer in deps, where, f"calls {peer} but does not depend on it")
    errs.check(len(images) == 1 and None not in images, "compose",
               f"the five services should share one image (have {images})")
    return services


def prometheus_targets(path):
    with open(path, encoding="utf-8") as f:
        prom = yaml.safe_load(f)
    targets = []
    for job in prom.get("scrape_configs", []):
        path = job.get("metrics_path", "/metrics")
        for sc in job.get("static_configs", []):
            for t in sc.get("targets", []):
                targets.append((job.get("job_name"), t, path))
    return targets


def check_prometheus(errs, services, desc, root, targets=None):
    prom = services.get("prometheus")
    if not errs.check(prom is not None, "compose", "no prometheus service"):
        return
    src = {os.path.realpath(s) for s in mounts(prom).values() if s}
    path = os.path.join(root, "deploy/docker/prometheus.yml")
    errs.check(os.path.realpath(path) in src, "compose prometheus", "should mount deploy/docker/prometheus.yml")
    if targets is None:
        targets = prometheus_targets(path)
    by_target = {t: p for _, t, p in targets}
    for name in dc.SERVICES:
        t = f"{name}:{desc['services'][name]['metrics_port']}"
        if errs.check(t in by_target, "prometheus.yml", f"does not scrape {t}"):
            errs.check(by_target[t] == "/metrics", "prometheus.yml", f"{t}: metrics_path should be /metrics")
    metrics_of = {n: desc["services"][n]["metrics_port"] for n in dc.SERVICES}
    for job, t, _ in targets:
        host, port = dc.hostport(t)
        if host in metrics_of:
            errs.check(port == metrics_of[host], "prometheus.yml",
                       f"{t}: {host}'s metrics port is {metrics_of[host]}")
        elif host not in ("localhost", "127.0.0.1", "prometheus"):
            errs.check(host in services, "prometheus.yml", f"{t}: no compose service {host}")


def dashboard_exprs(dash):
    """[(panel title, expr, legendFormat)] of every query, rows included."""
    out = []

    def walk(panels):
        for p in panels or []:
            for t in p.get("targets", []) or []:
                if "expr" in t:
                    out.append((p.get("title", "?"), t["expr"], t.get("legendFormat", "")))
            walk(p.get("panels"))

    walk(dash.get("panels"))
    return out


def check_promql(errs, where, expr, legend, names, labels):
    used = re.findall(r"\b(recstack_[a-zA-Z0-9_]+)\b", expr)
    for n in used:
        errs.check(n in names, where, f"{n} is not a metric the services export")
    # Every selector is one of ours, or `up` (Prometheus' own).
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{|\[)", stripped):
        word = m.group(1)
        if word not in PROMQL_WORDS and not word.startswith("recstack_"):
            errs.check(word == "up", where, f"selector {word} is not a recstack metric")
    # Label names in matchers, by/without clauses and the legend exist.
    for sel in re.findall(r"\{([^}]*)\}", stripped):
        for lab in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", sel):
            errs.check(lab in labels | BUILTIN_LABELS, where, f"label {lab} is not one the services set")
    for clause in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", stripped):
        for lab in re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", clause):
            errs.check(lab in labels | BUILTIN_LABELS, where, f"label {lab} is not one the services set")
    for lab in re.findall(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}", legend or ""):
        errs.check(lab in labels | BUILTIN_LABELS, where, f"legend label {lab} is not one the services set")
    errs.check(bool(used) or re.search(r"\bup\b", expr), where, f"query {expr!r} reads no recstack metric")


def check_grafana(errs, services, root, dash=None):
    g = services.get("grafana")
    if not errs.check(g is not None, "compose", "no grafana service"):
        return
    m = mounts(g)
    by_src = {os.path.realpath(s): t for t, s in m.items() if s}
    prov_dir = os.path.join(root, "deploy/docker/grafana/provisioning")
    dash_dir = os.path.join(root, "deploy/docker/grafana/dashboards")
    errs.check(by_src.get(os.path.realpath(prov_dir)) == "/etc/grafana/provisioning", "compose grafana",
               "should mount deploy/docker/grafana/provisioning at /etc/grafana/provisioning")
    dash_target = by_src.get(os.path.realpath(dash_dir))
    errs.check(dash_target is not None, "compose grafana", "should mount deploy/docker/grafana/dashboards")
    # Provisioning: a Prometheus data source at the compose service, a file
    # provider reading where the dashboards are mounted.
    uids = set()
    ds_dir = os.path.join(prov_dir, "datasources")
    for f in sorted(os.listdir(ds_dir)) if os.path.isdir(ds_dir) else []:
        with open(os.path.join(ds_dir, f), encoding="utf-8") as fh:
            for ds in (yaml.safe_load(fh) or {}).get("datasources", []):
                if ds.get("type") == "prometheus":
                    uids.add(ds.get("uid"))
                    host, port = dc.hostport(re.sub(r"^https?://", "", ds.get("url", "")))
                    errs.check(host in services and port == 9090, "grafana datasource",
                               f"{ds.get('url')} is not the compose prometheus")
    errs.check(bool(uids), "grafana provisioning", "no Prometheus data source")
    paths = set()
    pd = os.path.join(prov_dir, "dashboards")
    for f in sorted(os.listdir(pd)) if os.path.isdir(pd) else []:
        with open(os.path.join(pd, f), encoding="utf-8") as fh:
            for p in (yaml.safe_load(fh) or {}).get("providers", []):
                paths.add((p.get("options") or {}).get("path"))
    errs.check(dash_target in paths, "grafana provisioning",
               f"no dashboard provider reads {dash_target} (providers read {paths})")
    # The dashboard itself.
    if dash is None:
        try:
            with open(os.path.join(dash_dir, "recstack.json"), encoding="utf-8") as f:
                dash = json.load(f)
        except (OSError, ValueError) as e:
            errs.add("recstack.json", f"does not parse: {e}")
            return
    families, labels = dc.metric_families(root)
    names = dc.series_names(families)
    exprs = dashboard_exprs(dash)
    errs.check(len(exprs) >= 10, "recstack.json", f"only {len(exprs)} queries")
    for title, expr, legend in exprs:
        check_promql(errs, f"recstack.json panel {title!r}", expr, legend, names, labels)
    every = " ".join(e for _, e, _ in exprs)
    for what, metric in DASHBOARD_MUST_QUERY.items():
        errs.check(re.search(rf"\b{metric}\b", every), "recstack.json", f"no panel shows {what} ({metric})")
    errs.check("histogram_quantile(0.5" in every and "histogram_quantile(0.99" in every, "recstack.json",
               "should show p50 and p99")

    def walk(panels):
        for p in panels or []:
            if p.get("type") != "row":
                ds = p.get("datasource") or {}
                errs.check(isinstance(ds, dict) and ds.get("uid") in uids, "recstack.json",
                           f"panel {p.get('title')!r} uses data source {ds}, not the provisioned {uids}")
            walk(p.get("panels"))

    walk(dash.get("panels"))


def check_loadtest(errs, services, desc):
    lt = services.get("loadtest")
    if not errs.check(lt is not None, "compose", "no loadtest service"):
        return
    errs.check("loadtest" in (lt.get("profiles") or []), "compose loadtest", "should be in the loadtest profile")
    cmd = as_list(lt.get("command"))
    errs.check(cmd[:1] == ["recstack-loadtest"], "compose loadtest", f"should run recstack-loadtest (runs {cmd[:1]})")
    args, i, flags = {}, 1, []
    while i < len(cmd):
        a = cmd[i]
        if "=" in a and a.startswith("--"):
            k, v = a.split("=", 1)
        elif a in LOADTEST_SWITCHES:
            k, v = a, True
        else:
            k, v = a, cmd[i + 1] if i + 1 < len(cmd) else None
            i += 1
        flags.append(k)
        args[k] = v
        i += 1
    errs.check(flags == LOADTEST_FLAGS, "compose loadtest", f"flags should be {LOADTEST_FLAGS} (are {flags})")
    gw = f"gateway:{desc['services']['gateway']['grpc_port']}"
    errs.check(args.get("--addr") == gw, "compose loadtest", f"--addr should be {gw}")
    errs.check(re.fullmatch(r"(\w+=\d+,?)+", str(args.get("--mix", ""))) is not None, "compose loadtest",
               f"--mix {args.get('--mix')!r} is not name=weight,...")
    ds = str(args.get("--dataset", ""))
    errs.check(any(ds == t or ds.startswith(t.rstrip("/") + "/") for t in mounts(lt)), "compose loadtest",
               f"--dataset {ds} is on no volume")
    errs.check("gateway" in transitive_depends(services, "loadtest"), "compose loadtest", "should wait for the gateway")
    # The stack itself starts with a plain `up`: profiles are the load
    # generator's and Grafana's (a registry image) only.
    for name in ("redis", "prometheus") + dc.SERVICES:
        if name in services:
            errs.check(not services[name].get("profiles"), f"compose {name}", "should not be in a profile")
    if "grafana" in services:
        errs.check((services["grafana"].get("profiles") or []) == ["grafana"], "compose grafana",
                   "should be in the grafana profile (its image comes from a registry)")


def dockerfile_froms(path):
    """The base image of every stage, build arguments resolved to their defaults."""
    with open(path, encoding="utf-8") as f:
        joined = re.sub(r"\\\n", " ", f.read())
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", joined.split("\nFROM", 1)[0], re.M))
    froms = re.findall(r"^FROM\s+(\S+)", joined, re.M)
    return [re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), f) for f in froms]


def check_images(errs, services, root):
    """Every service but Grafana is built here on Debian 12, read-only."""
    docker_dir = os.path.realpath(os.path.join(root, "deploy/docker"))
    for name, svc in services.items():
        if name == "grafana":
            continue
        where = f"compose {name}"
        build = svc.get("build") or {}
        if not errs.check(bool(build), where, "has no build section (every image but Grafana's is built here)"):
            continue
        df = os.path.realpath(os.path.join(build.get("context", ""), build.get("dockerfile", "Dockerfile")))
        if not errs.check(df.startswith(docker_dir + os.sep) and os.path.isfile(df), where,
                          f"should build a Dockerfile under deploy/docker/ (builds {df})"):
            continue
        froms = dockerfile_froms(df)
        errs.check(bool(froms) and all(f.startswith("debian:bookworm") for f in froms), where,
                   f"{os.path.basename(df)} stages should be Debian 12 ({froms})")
        errs.check(svc.get("read_only") is True, where, "should run with a read-only root filesystem")


def cmake_targets(root):
    targets = set()
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith((".", "build"))]
        if "CMakeLists.txt" in files:
            with open(os.path.join(d, "CMakeLists.txt"), encoding="utf-8") as f:
                targets |= set(re.findall(r"add_executable\(\s*([A-Za-z0-9_.+-]+)", f.read()))
    return targets


def check_dockerfile(errs, services, root):
    path = os.path.join(root, "deploy/docker/Dockerfile")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    joined = re.sub(r"\\\n", " ", text)
    froms = dockerfile_froms(path)
    errs.check(len(froms) >= 2, "Dockerfile", "should be multi-stage")
    errs.check(all(f.startswith("debian:bookworm") for f in froms), "Dockerfile", f"stages should be Debian 12 ({froms})")
    errs.check(re.search(r"^RUN\s+\./scripts/deps\.sh", joined, re.M), "Dockerfile", "should install with scripts/deps.sh")
    with open(os.path.join(root, "CMakeLists.txt"), encoding="utf-8") as f:
        options = set(re.findall(r"option\(\s*(\w+)", f.read()))
    for opt in re.findall(r"-D(RECSTACK_\w+)=", joined):
        errs.check(opt in options, "Dockerfile", f"-D{opt}: no such option in CMakeLists.txt")
    errs.check("-DRECSTACK_BUILD_TESTS=OFF" in joined and "-DRECSTACK_BUILD_BENCH=OFF" in joined, "Dockerfile",
               "should build without tests and benchmarks")
    errs.check(os.path.isfile(os.path.join(root, ".dockerignore")), ".dockerignore", "is missing")
    targets = cmake_targets(root)
    loadtest_there = os.path.isfile(os.path.join(root, "loadtest/CMakeLists.txt"))
    for name, svc in services.items():
        cmd = as_list(svc.get("command"))
        if not cmd or not cmd[0].startswith("recstack"):
            continue
        if cmd[0] == "recstack-loadtest" and not loadtest_there:
            print("check_compose: note: loadtest/ is not in this tree yet; recstack-loadtest not checked")
            continue
        errs.check(cmd[0] in targets, f"compose {name}", f"runs {cmd[0]}, which no CMakeLists.txt builds")


def secret_files(svc, cfg):
    """{path inside the container: host file} of a compose service's secrets."""
    out = {}
    for sec in svc.get("secrets", []) or []:
        src, target = (sec, sec) if isinstance(sec, str) else (sec.get("source"), sec.get("target") or sec.get("source"))
        path = target if str(target).startswith("/") else f"/run/secrets/{target}"
        out[path] = ((cfg.get("secrets") or {}).get(src) or {}).get("file")
    return out


def check_tls(errs, cfg, desc_tls, root):
    """The stack with the TLS file on top: each service and client its own
    certificate and key and the CA, as Compose secrets from one folder."""
    services = cfg.get("services", {})
    folders = set()
    for name in dc.SERVICES + tuple(TLS_CLIENTS):
        where = f"compose+tls {name}"
        svc = services.get(name)
        if not errs.check(svc is not None, "compose+tls", f"no {name} service"):
            continue
        env = svc.get("environment") or {}
        if name in desc_tls["services"]:
            want = {k for k in desc_tls["services"][name]["env"] if k.startswith("RECSTACK_TLS_")}
            errs.check(want == set(dc.TLS_ENV), "stack.sh describe --tls", f"{name} gets {sorted(want)}")
        files = secret_files(svc, cfg)
        cert_name = TLS_CLIENTS.get(name, name)
        expect = {"RECSTACK_TLS_CERT": f"{cert_name}.pem", "RECSTACK_TLS_KEY": f"{cert_name}-key.pem",
                  "RECSTACK_TLS_CA": "ca.pem"}
        for key, base in expect.items():
            path = env.get(key)
            if not errs.check(path is not None, where, f"{key} is not set"):
                continue
            host = files.get(path)
            if not errs.check(host is not None, where, f"{key}={path} is not one of its secrets {sorted(files)}"):
                continue
            errs.check(os.path.basename(host) == base, where, f"{key}={path} is {host}, not its {base}")
            folders.add(os.path.dirname(host))
    errs.check(len(folders) == 1, "compose+tls", f"the secrets come from several folders {sorted(folders)}")
    # The default folder holds private keys: never committed.
    default = os.path.join(root, "deploy/tls/certs")
    if folders == {default}:
        with open(os.path.join(root, ".gitignore"), encoding="utf-8") as f:
            ignored = {line.strip() for line in f}
        errs.check("/deploy/tls/certs/" in ignored, ".gitignore", "should ignore /deploy/tls/certs/ (private keys)")
    return folders


def check_tls_certificates(errs, root):
    """The certificates of the command in the TLS file's header, in a
    temporary folder: every secret's file is there, each certificate signed
    by the CA and naming its service and 127.0.0.1."""
    if shutil.which("openssl") is None:
        print("check_compose: note: no openssl; the TLS certificates not made")
        return
    with open(os.path.join(root, TLS_FILE), encoding="utf-8") as f:
        header = f.read()
    m = re.search(r"^#\s+deploy/tls/make-certs\.sh deploy/tls/certs ([a-z0-9 -]+)$", header, re.M)
    if not errs.check(m is not None, TLS_FILE, "no `deploy/tls/make-certs.sh deploy/tls/certs NAMES` in its header"):
        return
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([os.path.join(root, "deploy/tls/make-certs.sh"), tmp, *m.group(1).split()],
                           capture_output=True, text=True)
        if not errs.check(r.returncode == 0, TLS_FILE, f"make-certs.sh fails: {r.stderr.strip()}"):
            return
        cfg = compose_config(root, TLS_FILE, env_add={"RECSTACK_TLS_DIR": tmp})
        for name, sec in (cfg.get("secrets") or {}).items():
            path = sec.get("file", "")
            if not errs.check(os.path.isfile(path), TLS_FILE, f"secret {name}: the header's command makes no {path}"):
                continue
            base = os.path.basename(path)
            if base == "ca.pem" or base.endswith("-key.pem"):
                continue
            cert_name = base[:-len(".pem")]
            v = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(tmp, "ca.pem"), path], capture_output=True)
            errs.check(v.returncode == 0, TLS_FILE, f"{base} is not signed by ca.pem")
            san = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-ext", "subjectAltName"],
                                 capture_output=True, text=True).stdout
            names = set(re.findall(r"(?:DNS|IP Address):([^,\s]+)", san))
            errs.check({cert_name, "127.0.0.1"} <= names, TLS_FILE, f"{base} names {sorted(names)}")


def run_checks(cfg, desc, root, targets=None, dash=None):
    errs = dc.Errors()
    services = check_services(errs, cfg, desc, root)
    check_prometheus(errs, services, desc, root, targets)
    check_grafana(errs, services, root, dash)
    check_loadtest(errs, services, desc)
    check_images(errs, services, root)
    check_dockerfile(errs, services, root)
    return errs


def set_env(c, svc, key, value=None):
    """Sets (or with no value removes) one environment variable of a service."""
    e = c["services"][svc]["environment"]
    if value is None:
        e.pop(key)
    else:
        e[key] = value


def self_test(cfg, desc, root):
    """Breaks one thing at a time; each must be caught."""
    with open(os.path.join(root, "deploy/docker/grafana/dashboards/recstack.json"), encoding="utf-8") as f:
        dash = json.load(f)
    targets = prometheus_targets(os.path.join(root, "deploy/docker/prometheus.yml"))

    def ports(c, svc, new):
        c["services"][svc]["ports"] = new

    cases = {
        "gateway gRPC port published as 50060": lambda c, d, t: ports(c, "gateway", ["127.0.0.1:50060:50060", "127.0.0.1:8080:8080", "127.0.0.1:9100:9100"]),
        "ranking metrics port mapped 9105:9104": lambda c, d, t: ports(c, "ranking", ["127.0.0.1:50054:50054", "127.0.0.1:9105:9104"]),
        "retrieval listens on 50063": lambda c, d, t: set_env(c, "retrieval", "RECSTACK_LISTEN", "0.0.0.0:50063"),
        "ingestion listens on loopback": lambda c, d, t: set_env(c, "ingestion", "RECSTACK_LISTEN", "127.0.0.1:50051"),
        "gateway without RECSTACK_RANKING_ADDR": lambda c, d, t: set_env(c, "gateway", "RECSTACK_RANKING_ADDR"),
        "gateway calls ranking on 50053": lambda c, d, t: set_env(c, "gateway", "RECSTACK_RANKING_ADDR", "ranking:50053"),
        "a variable no service reads": lambda c, d, t: set_env(c, "ranking", "RECSTACK_NO_SUCH_FLAG", "1"),
        "training state dir not on a volume": lambda c, d, t: c["services"]["training"].pop("volumes"),
        "redis URL on the wrong port": lambda c, d, t: set_env(c, "retrieval", "RECSTACK_REDIS_URL", "redis://redis:6380"),
        "no redis service": lambda c, d, t: c["services"].pop("redis"),
        "healthcheck on another port": lambda c, d, t: c["services"]["ranking"]["healthcheck"].update(test=["CMD", "recstack", "health", "--addr", "127.0.0.1:50053"]),
        "wrong binary": lambda c, d, t: c["services"]["retrieval"].update(command=["recstack-ranking"]),
        "Prometheus misses ranking": lambda c, d, t: t.remove(next(x for x in t if x[1] == "ranking:9104")),
        "Prometheus scrapes gateway:9101": lambda c, d, t: t.append(("recstack", "gateway:9101", "/metrics")),
        "dashboard queries a metric that does not exist": lambda c, d, t: d["panels"][1]["targets"][0].update(expr="sum(rate(recstack_no_such_metric_total[1m]))"),
        "dashboard groups by a label that does not exist": lambda c, d, t: d["panels"][1]["targets"][0].update(expr="sum by (colour) (rate(recstack_rpc_requests_total[1m]))"),
        "dashboard has no training panel": lambda c, d, t: d.update(panels=[p for p in d["panels"] if "recstack_training_loss" not in json.dumps(p)]),
        "load generator with another flag": lambda c, d, t: c["services"]["loadtest"]["command"].append("--bogus"),
        "load generator not in a profile": lambda c, d, t: c["services"]["loadtest"].pop("profiles"),
        "load generator aimed at ranking": lambda c, d, t: c["services"]["loadtest"]["command"].__setitem__(2, "ranking:50054"),
        "gateway only in a profile": lambda c, d, t: c["services"]["gateway"].update(profiles=["extra"]),
        "grafana in the default stack": lambda c, d, t: c["services"]["grafana"].pop("profiles"),
        "prometheus from a registry image": lambda c, d, t: c["services"]["prometheus"].pop("build"),
        "redis built from another Dockerfile": lambda c, d, t: c["services"]["redis"]["build"].update(dockerfile="../../Dockerfile"),
        "gateway with a writable root filesystem": lambda c, d, t: c["services"]["gateway"].pop("read_only"),
        "dashboard on another data source": lambda c, d, t: d["panels"][1].update(datasource={"type": "prometheus", "uid": "other"}),
    }
    def errors_after(mutate):
        c, d, t = copy.deepcopy(cfg), copy.deepcopy(dash), list(targets)
        mutate(c, d, t)
        return run_checks(c, desc, root, t, d).items

    return dc.run_self_test(cases, errors_after, set(run_checks(cfg, desc, root, targets, dash).items))


def self_test_tls(cfg, desc_tls, root):
    """Breaks the TLS file's result one thing at a time."""
    def swap_secret(c, svc, target, source):
        for sec in c["services"][svc]["secrets"]:
            if sec["target"] == target:
                sec["source"] = source

    cases = {
        "tls: ranking without RECSTACK_TLS_CA": lambda c: set_env(c, "ranking", "RECSTACK_TLS_CA"),
        "tls: gateway's key from another path": lambda c: set_env(c, "gateway", "RECSTACK_TLS_KEY", "/tmp/tls.key"),
        "tls: retrieval given ranking's certificate": lambda c: swap_secret(c, "retrieval", "tls.crt", "ranking-cert"),
        "tls: ingestion given its certificate as the CA": lambda c: swap_secret(c, "ingestion", "ca.crt", "ingestion-cert"),
        "tls: loadtest without a client certificate": lambda c: c["services"]["loadtest"].pop("secrets"),
        "tls: one secret from another folder": lambda c: c["secrets"]["training-key"].update(file="/elsewhere/training-key.pem"),
    }

    def errors_after(mutate):
        c = copy.deepcopy(cfg)
        mutate(c)
        e = dc.Errors()
        check_tls(e, c, desc_tls, root)
        return e.items

    base = dc.Errors()
    check_tls(base, cfg, desc_tls, root)
    return dc.run_self_test(cases, errors_after, set(base.items))


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../.."))
    cfg = compose_config(root)
    desc = dc.describe(root)
    code = run_checks(cfg, desc, root).report("check_compose")
    # TLS on top: the same checks, then the TLS ones.
    cfg_tls = compose_config(root, TLS_FILE)
    desc_tls = dc.describe(root, "--tls")
    errs = run_checks(cfg_tls, desc, root)
    check_tls(errs, cfg_tls, desc_tls, root)
    check_tls_certificates(errs, root)
    code |= errs.report("check_compose (with docker-compose.tls.yml)")
    if "--self-test" in sys.argv[2:]:
        if self_test(cfg, desc, root):
            code = 1
        if self_test_tls(cfg_tls, desc_tls, root):
            code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
