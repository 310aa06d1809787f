"""What the deploy checks compare against: the local stack's table
(`deploy/local/stack.sh describe`) and facts read from the source tree
(metric families, their label names, every service's RECSTACK_* variables).

Nothing here is a copy of those facts: each is read from where it lives, so
a port moved in stack.sh or a metric renamed in a service fails the checks
of whichever deploy file did not follow.
"""

import json
import os
import re
import subprocess
import sys

SERVICES = ("gateway", "ingestion", "training", "retrieval", "ranking")

# Where each service's main() is (training keeps its service in a subfolder).
MAIN_CC = {
    "gateway": "services/gateway/main.cc",
    "ingestion": "services/ingestion/main.cc",
    "training": "services/training/main.cc",
    "retrieval": "services/retrieval/main.cc",
    "ranking": "services/ranking/main.cc",
}


class Errors:
    """Collects failures; a check reports all it finds, not just the first."""

    def __init__(self):
        self.items = []

    def add(self, where, msg):
        self.items.append(f"{where}: {msg}")

    def check(self, cond, where, msg):
        if not cond:
            self.add(where, msg)
        return cond

    def __bool__(self):
        return bool(self.items)

    def report(self, name):
        if self.items:
            for e in self.items:
                print(f"{name}: FAIL {e}", file=sys.stderr)
            print(f"{name}: {len(self.items)} problem(s)", file=sys.stderr)
            return 1
        print(f"{name}: ok")
        return 0


def load_yaml_module():
    try:
        import yaml  # noqa: F401
    except ImportError:
        sys.exit("python3-yaml is missing: run scripts/deps.sh")
    import yaml
    return yaml


# The user's optional settings stack.sh passes on when set (an experiments
# file, an exploration rate): the deployments are compared with the stack's
# defaults, without them.
OPTIONAL_ENV = ("RECSTACK_EXPERIMENTS", "RECSTACK_EXPLORE_RATE")


def describe(root, *options):
    """The five-process local stack's table (--split, the shape of the
    Compose and Kubernetes files), at port offset 0, without optional
    settings (`options`: stack.sh's, e.g. "--tls")."""
    env = dict(os.environ)
    env.pop("RECSTACK_PORT_OFFSET", None)
    for name in OPTIONAL_ENV:
        env.pop(name, None)
    out = subprocess.run([os.path.join(root, "deploy/local/stack.sh"), "describe", "--split", *options],
                         check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)


def env_name(flag):
    """--flag-name -> RECSTACK_FLAG_NAME (common/config/config.cc EnvName)."""
    return "RECSTACK_" + flag.lstrip("-").replace("-", "_").upper()


def _read(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return f.read()


def _function_body(text, signature):
    body = text[text.index(signature):]
    return body[:body.index("\n}\n")]


def common_env_names(root):
    """Variables of the flags every service has (config::AddServiceFlags, and
    the TLS flags it adds with config::AddTlsFlags)."""
    body = _function_body(_read(root, "common/config/config.cc"), "void AddServiceFlags")
    names = {env_name(f) for f in re.findall(r'EnvName\("([a-z0-9-]+)"\)', body)}
    if "AddTlsFlags(" in body:
        tls = _function_body(_read(root, "common/config/tls.cc"), "void AddTlsFlags")
        names |= {env_name(f) for f in re.findall(r'EnvName\("([a-z0-9-]+)"\)', tls)}
    return names


TLS_ENV = ("RECSTACK_TLS_CERT", "RECSTACK_TLS_KEY", "RECSTACK_TLS_CA")


def service_env_names(root, service):
    """Every RECSTACK_* variable `service` reads: the common flags plus those
    its main.cc registers with an envname (EnvName or AddAddressFlag)."""
    text = _read(root, MAIN_CC[service])
    names = set(common_env_names(root))
    names |= {env_name(f) for f in re.findall(r'EnvName\("([a-z0-9-]+)"\)', text)}
    names |= {env_name(f) for f in re.findall(r'AddAddressFlag\(\s*\w+\s*,\s*"([a-z0-9-]+)"', text)}
    return names


def liveness_name(root):
    """The gRPC health name that stays SERVING while a process runs
    (grpcutil::kLivenessService in common/grpc/server.h)."""
    m = re.search(r'kLivenessService\[\]\s*=\s*"([^"]+)"', _read(root, "common/grpc/server.h"))
    return m.group(1) if m else None


def _sources(root):
    for top in ("common", "services"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if f.endswith(".cc") and not f.endswith("_test.cc"):
                    yield os.path.join(d, f)


def metric_families(root):
    """{name: type} of every Prometheus family the services register, and the
    set of label names they use."""
    families, labels = {}, set()
    build = re.compile(r'Build(Counter|Gauge|Histogram|Summary)\(\)\s*\.Name\("([a-zA-Z_:][a-zA-Z0-9_:]*)"\)')
    for path in _sources(root):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for kind, name in build.findall(text):
            families[name] = kind.lower()
        for m in re.finditer(r"(?:\.|->)Add\(", text):
            chunk = text[m.end():m.end() + 400]
            labels |= set(re.findall(r'\{\s*"([a-zA-Z_][a-zA-Z0-9_]*)"\s*,', chunk))
    return families, labels


def series_names(families):
    """Names a query may use: counters and gauges as is, histograms' and
    summaries' _bucket/_sum/_count."""
    names = set()
    for name, kind in families.items():
        if kind == "histogram":
            names |= {name + "_bucket", name + "_sum", name + "_count"}
        elif kind == "summary":
            names |= {name, name + "_sum", name + "_count"}
        else:
            names.add(name)
    return names


def hostport(value):
    host, _, port = value.rpartition(":")
    return host, int(port) if port.isdigit() else None


def service_by_grpc_port(desc):
    return {s["grpc_port"]: name for name, s in desc["services"].items()}


def gateway_peers(desc):
    """The services the gateway calls (its --*-addr flags), by name."""
    by_port = service_by_grpc_port(desc)
    return {by_port.get(hostport(v)[1]) for k, v in desc["services"]["gateway"]["env"].items()
            if k.endswith("_ADDR")}


def check_service_env(errs, where, service, desc, env, root, redis_host="redis", mounts=(),
                      peer_target="{peer}:{port}"):
    """The variables a deployment gives `service` against the local stack's:
    the same names (each one the service reads), the same ports, listening on
    every interface, peers and Redis by their in-cluster names (each peer's
    address written as `peer_target`, e.g. "dns:///{peer}:{port}")."""
    s = desc["services"][service]
    known = service_env_names(root, service)
    by_port = service_by_grpc_port(desc)
    for key in env:
        if key.startswith("RECSTACK_"):
            errs.check(key in known, where, f"{key} is not a variable recstack-{service} reads")
    for key, local in s["env"].items():
        if not errs.check(key in env, where, f"{key} is missing (stack.sh gives --{key[9:].lower().replace('_', '-')})"):
            continue
        got = str(env[key])
        if key.endswith("LISTEN"):
            host, port = hostport(got)
            _, want = hostport(local)
            errs.check(port == want, where, f"{key}={got}: port should be {want} as in the local stack")
            errs.check(host in ("0.0.0.0", "[::]"), where, f"{key}={got}: a container must listen on 0.0.0.0")
        elif key.endswith("_ADDR"):
            _, want = hostport(local)
            peer = by_port.get(want)
            target = peer_target.format(peer=peer, port=want)
            errs.check(got == target, where, f"{key}={got}: should be {target}")
        elif key == "RECSTACK_REDIS_URL" and got.startswith("redis-cluster://"):
            # Every seed a pod of the cluster's StatefulSet behind its headless
            # Service (NAME-i.SERVICE) on the local stack's Redis port.
            nodes = got[len("redis-cluster://"):].split("@")[-1].split(",")
            ok = all(re.match(r"^[a-z0-9-]+-\d+\." + re.escape(str(redis_host)) + r":(\d+)$", n)
                     and int(n.rsplit(":", 1)[1]) == desc["redis"]["port"] for n in nodes)
            errs.check(ok, where, f"{key}={got}: every node should be POD.{redis_host}:{desc['redis']['port']}")
        elif key == "RECSTACK_REDIS_URL":
            m = re.match(r"^redis://(?::[^@]*@)?([^:/]+):(\d+)(/\d+)?$", got)
            ok = m is not None and m.group(1) == redis_host and int(m.group(2)) == desc["redis"]["port"]
            errs.check(ok, where, f"{key}={got}: should be redis://{redis_host}:{desc['redis']['port']}")
        elif key == "RECSTACK_STATE_DIR":
            errs.check(got.startswith("/"), where, f"{key}={got}: should be an absolute path")
            errs.check(got in mounts, where, f"{key}={got}: no volume is mounted there (the snapshot would be lost)")


def run_self_test(cases, errors_after, baseline):
    """Each case breaks the files one way (errors_after(mutate) checks a
    broken copy); a case passes when it yields an error the intact files do
    not. Returns the number of breaks that went unnoticed."""
    failed = 0
    for name, mutate in cases.items():
        new = [e for e in errors_after(mutate) if e not in baseline]
        if new:
            print(f"self-test: caught {name}: {new[0]}")
        else:
            print(f"self-test: FAIL {name} was not caught", file=sys.stderr)
            failed += 1
    return failed
