#!/usr/bin/env python3
"""The runtime stage of deploy/docker/Dockerfile installs a package for every
shared library the built binaries link: `ldd` each recstack binary of a
local build, map each library to its Debian package (`dpkg -S`), and expect
that package in the stage's `apt-get install` list (or in the slim base).

  check_runtime_libs.py ROOT BIN_DIR [--self-test]

Exits 77 (skipped) when BIN_DIR has no recstack binaries: nothing to ldd.
"""

import glob
import os
import re
import subprocess
import sys

# In debian:bookworm-slim already (essential, or needed by apt itself).
BASE = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}
# Sanitizer runtimes of an ASan/UBSan build are not shipped.
IGNORE = re.compile(r"^lib(asan|ubsan|lsan|tsan)\d*$")
SKIP = 77


def runtime_packages(dockerfile):
    with open(dockerfile, encoding="utf-8") as f:
        text = re.sub(r"\\\n", " ", f.read())
    stages = re.split(r"^FROM\s", text, flags=re.M)
    last = stages[-1]
    pkgs = set()
    for m in re.finditer(r"apt-get\s+install\s+([^&;]*)", last):
        pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


_OWNERS = {}
_INDEX = None


def owner(path):
    """The Debian package holding `path`."""
    if path not in _OWNERS:
        _OWNERS[path] = _owner(path)
    return _OWNERS[path]


def _dpkg_index():
    """{path: package} of every installed package's file list, read once.
    `dpkg -S` per library took about half a second each, 48 s for the
    binaries' 80-odd libraries; the lists are the same data."""
    global _INDEX
    if _INDEX is None:
        _INDEX = {}
        for lst in glob.glob("/var/lib/dpkg/info/*.list"):
            pkg = os.path.basename(lst)[: -len(".list")].split(":")[0]
            with open(lst, encoding="utf-8", errors="replace") as f:
                for line in f:
                    _INDEX.setdefault(line.rstrip("\n"), pkg)
    return _INDEX


def _owner(path):
    candidates = (path, os.path.realpath(path), re.sub(r"^/usr/lib/", "/lib/", path),
                  re.sub(r"^/lib/", "/usr/lib/", path))
    index = _dpkg_index()
    for p in candidates:
        if p in index:
            return index[p]
    # Not in any list (a diversion, say): ask dpkg.
    for p in candidates:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


def needed(bin_dir):
    """{package: [libraries]} the binaries link."""
    out = {}
    # What the image ships: the CLI, the services, the load generator (the
    # image builds without benchmarks, which link FAISS and OpenMP).
    bins = sorted(b for b in glob.glob(os.path.join(bin_dir, "recstack*"))
                  if os.access(b, os.X_OK) and os.path.isfile(b) and "-bench-" not in os.path.basename(b))
    for b in bins:
        r = subprocess.run(["ldd", b], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            m = re.search(r"=>\s*(/\S+)", line)
            if not m:
                continue
            pkg = owner(m.group(1)) or f"<no package for {m.group(1)}>"
            out.setdefault(pkg, set()).add(os.path.basename(m.group(1)))
    return bins, out


def check(have, need):
    missing = []
    for pkg, libs in sorted(need.items()):
        if pkg in BASE or IGNORE.match(pkg) or pkg in have:
            continue
        missing.append(f"{pkg} ({', '.join(sorted(libs))})")
    return missing


def main():
    root, bin_dir = sys.argv[1], sys.argv[2]
    bins, need = needed(bin_dir)
    if not bins:
        print(f"check_runtime_libs: no recstack binaries in {bin_dir}: skipped")
        return SKIP
    have = runtime_packages(os.path.join(root, "deploy/docker/Dockerfile"))
    missing = check(have, need)
    for m in missing:
        print(f"check_runtime_libs: FAIL the Dockerfile's runtime stage does not install {m}", file=sys.stderr)
    if not missing:
        print(f"check_runtime_libs: ok ({len(bins)} binaries, {len(need)} packages)")
    code = 1 if missing else 0
    if "--self-test" in sys.argv[3:]:
        for drop in ("libhiredis0.14", "libgrpc++1.51"):
            if drop in have and not check(have - {drop}, need):
                print(f"self-test: FAIL dropping {drop} was not caught", file=sys.stderr)
                code = 1
            else:
                print(f"self-test: caught dropping {drop}")
    return code


if __name__ == "__main__":
    sys.exit(main())
