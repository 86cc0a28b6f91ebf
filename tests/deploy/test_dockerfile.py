#!/usr/bin/env python3
"""deploy/Dockerfile, checked statically (no Docker engine here) and against
the built binaries:
  * two stages on Debian 12: a build stage that runs scripts/install-deps.sh
    exactly as `make run` does (Makefile's deps target) and a CMake release
    build of hearth and hearth-cli; a runtime stage that copies only those
    two binaries from it;
  * the runtime stage's apt packages match the binaries: every shared
    library `ldd` lists for hearth and hearth-cli belongs to a listed
    package, to something a listed package depends on, or to a package
    every Debian 12 image has (Priority: required); every directly linked
    library's package is listed; and nothing is listed that owns none of
    those libraries (ca-certificates excepted, for https scrape targets);
  * non-root USER (the same uid as the Helm chart's runAsUser and fsGroup),
    data directory = VOLUME = WORKDIR = the default -storage.path, EXPOSE =
    hearth's default HTTP and RPC ports, `hearth` as the ENTRYPOINT, and a
    HEALTHCHECK through `hearth-cli ready` on the HTTP port, which the test
    runs against a real hearth (exit 0) and against a closed port (exit 3);
  * .dockerignore keeps build trees, data and .git out of the context and
    nothing the build needs.
"""

import fnmatch
import os
import re
import shlex
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_lib as lib  # noqa: E402

DOCKERFILE = os.path.join(lib.DEPLOY, "Dockerfile")
BOOKWORM = re.compile(r"^debian:(12|bookworm)(-slim)?$")
# Packages the runtime stage may list without a library of the binaries.
EXTRA_OK = {"ca-certificates": "CA roots for https scrape targets and etcd endpoints"}
# Sanitizer runtimes appear in `ldd` of an ASan build only: the image is a
# release build.
SANITIZER_LIB = re.compile(r"^lib(asan|ubsan|lsan|tsan|hwasan)\.so")


def instructions():
    """[(stage index, INSTRUCTION, argument text)], continuations joined."""
    with open(DOCKERFILE) as f:
        lines = f.read().splitlines()
    out, cur, stage = [], "", -1
    for line in lines:
        s = line.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if cur and s.startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        word, _, rest = cur.partition(" ")
        word = word.upper()
        if word == "FROM":
            stage += 1
        out.append((stage, word, rest.strip()))
        cur = ""
    return out


def exec_form(arg):
    assert arg.startswith("["), "not exec form: " + arg
    import json
    return json.loads(arg)


def dpkg_owners(paths):
    """{path: Debian package owning it}, in one dpkg -S call. Each path is
    asked as ldd printed it and with /lib <-> /usr/lib swapped (usrmerge:
    dpkg knows a library under one of the two names)."""
    def alt(p):
        return p.replace("/usr/lib/", "/lib/", 1) if p.startswith("/usr/lib/") else p.replace("/lib/", "/usr/lib/", 1)
    names = {}
    for p in paths:
        for q in (p, alt(p), os.path.realpath(p), alt(os.path.realpath(p))):
            names.setdefault(q, p)
    r = lib.run(["dpkg", "-S"] + sorted(names))
    out = {}
    for line in r.stdout.splitlines():
        pkg, _, path = line.partition(": ")
        if path in names:
            out.setdefault(names[path], pkg.split(":")[0].split(",")[0].strip())
    missing = [p for p in paths if p not in out]
    assert not missing, "no Debian package owns %s" % missing
    return out


def ldd(binary):
    """{soname: path} of every library the binary loads."""
    r = lib.run(["ldd", binary])
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def needed(binary):
    r = lib.run(["readelf", "-d", binary])
    assert r.returncode == 0, r.stderr
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", r.stdout)


def installed_packages():
    """{package: (priority, essential, [dependency names])} from one dpkg-query."""
    r = lib.run(["dpkg-query", "-W", "-f", "${Package}\t${Priority}\t${Essential}\t${Depends}, ${Pre-Depends}\n"])
    out = {}
    for line in r.stdout.splitlines():
        name, prio, ess, deps = (line.split("\t") + ["", "", ""])[:4]
        names = []
        for alt in deps.split(","):
            for choice in alt.split("|"):
                n = choice.strip().split(" ")[0].split(":")[0]
                if n:
                    names.append(n)
        out[name] = (prio, ess, names)
    return out


def depends_closure(pkgs, db):
    """pkgs plus everything they depend on, recursively (installed packages)."""
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(db.get(p, ("", "", []))[2])
    return seen


def base_image_packages(db):
    """What every Debian 12 image has: the required and essential packages
    and their dependencies (libc6, for one, is "optional" but essential
    packages depend on it)."""
    return depends_closure([p for p, (prio, ess, _) in db.items() if prio == "required" or ess == "yes"], db)


class TestDockerfile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ins = instructions()
        cls.stages = [a for _, w, a in cls.ins if w == "FROM"]

    def stage(self, i):
        return [(w, a) for s, w, a in self.ins if s == i]

    def runtime_packages(self):
        runs = [a for w, a in self.stage(1) if w == "RUN" and "apt-get install" in a]
        self.assertEqual(len(runs), 1, runs)
        words = shlex.split(runs[0].split("apt-get install", 1)[1].split("&&")[0])
        self.assertIn("--no-install-recommends", words)
        self.assertIn("-y", words)
        return [w for w in words if not w.startswith("-")]

    def test_dockerfile_stages(self):
        self.assertEqual(len(self.stages), 2, self.stages)
        base0, _, name0 = self.stages[0].partition(" AS ")
        base1, _, _ = self.stages[1].partition(" AS ")
        self.assertRegex(base0, BOOKWORM)
        self.assertRegex(base1, BOOKWORM)
        self.assertEqual(name0, "build")

    def test_dockerfile_build_stage_uses_install_script(self):
        build = self.stage(0)
        with open(os.path.join(lib.SOURCE_ROOT, "Makefile")) as f:
            make = f.read()
        # The deps target (what `make run` runs first) and the Dockerfile
        # run the same command.
        deps_cmd = re.search(r"^deps:\n\t(.+)$", make, re.M).group(1).strip()
        self.assertRegex(make, r"(?m)^run: build$")
        self.assertRegex(make, r"(?m)^build: deps$")
        runs = [a for w, a in build if w == "RUN"]
        self.assertTrue(runs[0].startswith(deps_cmd + " "), (runs[0], deps_cmd))
        self.assertNotIn("--test", runs[0])
        copies = [a for w, a in build if w == "COPY"]
        self.assertEqual(copies[0], "scripts/install-deps.sh scripts/install-deps.sh")
        self.assertEqual(copies[1], ". .")
        cmake = [a for a in runs if "cmake -S" in a]
        self.assertEqual(len(cmake), 1)
        self.assertIn("-DCMAKE_BUILD_TYPE=Release", cmake[0])
        self.assertIn("--target hearth hearth-cli", cmake[0])
        self.assertNotIn("apt-get", " ".join(runs), "packages come from the install script only")

    def test_dockerfile_runtime_stage_is_runtime_only(self):
        rt = self.stage(1)
        text = " ".join(a for _, a in rt)
        self.assertNotIn("install-deps.sh", text)
        for p in self.runtime_packages():
            self.assertFalse(p.endswith("-dev") or p in ("gcc", "clang", "cmake", "ninja-build", "golang-go"), p)
        self.assertIn("rm -rf /var/lib/apt/lists/*", text)
        copies = [a for w, a in rt if w == "COPY"]
        self.assertEqual(copies, ["--from=build /build/cmd/hearth /build/cmd/hearth-cli /usr/local/bin/"])

    def test_dockerfile_runtime_packages_match_ldd(self):
        listed = set(self.runtime_packages())
        bins = [lib.hearth_bin(), lib.hearth_cli_bin()]
        for b in bins:
            self.assertTrue(os.path.exists(b), "built binary missing: %s (set HEARTH_BIN)" % b)
        libs, direct = {}, set()
        for b in bins:
            libs.update(ldd(b))
            direct.update(needed(b))
        libs = {k: v for k, v in libs.items() if not SANITIZER_LIB.match(k)}
        direct = {d for d in direct if not SANITIZER_LIB.match(d)}
        pkg_of = dpkg_owners(sorted(set(libs.values())))
        owner = {so: pkg_of[path] for so, path in libs.items()}
        db = installed_packages()
        base = base_image_packages(db)
        have = depends_closure(listed, db) | base
        missing = {so: pkg for so, pkg in owner.items() if pkg not in have}
        self.assertEqual(missing, {}, "libraries the image would lack")
        direct_missing = {so: owner[so] for so in direct if owner[so] not in listed and owner[so] not in base}
        self.assertEqual(direct_missing, {}, "directly linked libraries whose package is not listed")
        unused = listed - set(owner.values()) - set(EXTRA_OK)
        self.assertEqual(unused, set(), "listed packages owning none of the binaries' libraries")
        # Every directly linked library's package, minus the base image's
        # libc, is what the list holds: nothing more, nothing less.
        want = {owner[so] for so in direct} - {"libc6", "libgcc-s1"}
        self.assertEqual(listed - set(EXTRA_OK), want)

    def test_dockerfile_user_ports_volume_entrypoint(self):
        rt = self.stage(1)
        last = lambda w: [a for x, a in rt if x == w][-1]  # noqa: E731
        user = last("USER")
        uid, _, gid = user.partition(":")
        self.assertTrue(uid.isdigit() and int(uid) > 0, "USER must be a numeric non-root uid: " + user)
        useradd = [a for w, a in rt if w == "RUN" and "useradd" in a][0]
        self.assertIn("--uid %s" % uid, useradd)
        self.assertTrue(gid.isdigit() and int(gid) > 0, "USER must name a numeric non-root group: " + user)
        self.assertIn("groupadd --system --gid %s hearth" % gid, useradd)
        # The Helm chart runs as the same user.
        with open(os.path.join(lib.CHART, "values.yaml")) as f:
            values = f.read()
        self.assertIn("runAsUser: %s" % uid, values)
        self.assertIn("fsGroup: %s" % gid, values)

        help_text = lib.run([lib.hearth_bin(), "-h"]).stdout + lib.run([lib.hearth_bin(), "-h"]).stderr
        default = lambda flag: re.search(r"-%s \w+\n.*?\(default \"?([^\")]*)\"?\)" % re.escape(flag),  # noqa: E731
                                         help_text, re.S).group(1)
        http_port, rpc_port = default("server.http-listen-port"), default("ring.listen-port")
        self.assertEqual(last("EXPOSE").split(), [http_port, rpc_port])
        self.assertEqual(exec_form(last("ENTRYPOINT")), ["hearth"])
        data = last("VOLUME")
        self.assertEqual(last("WORKDIR"), data)
        self.assertEqual(exec_form(last("CMD")), ["-storage.path=" + data])
        self.assertIn("chown hearth:hearth %s" % data, useradd)

    def test_dockerfile_healthcheck(self):
        rt = self.stage(1)
        (hc,) = [a for w, a in rt if w == "HEALTHCHECK"]
        opts, _, cmd = hc.partition(" CMD ")
        argv = exec_form(cmd)
        self.assertEqual(argv[:2], ["hearth-cli", "ready"])
        url = argv[argv.index("--url") + 1]
        self.assertEqual(url, "http://127.0.0.1:4040")
        self.assertRegex(opts, r"--start-period=\d+s")
        # The command itself, against a real hearth and against nothing.
        with tempfile.TemporaryDirectory(prefix="hearth-docker-") as tmp:
            procs = lib.Procs(tmp)
            port = lib.free_port()
            p = procs.start("hearth", [lib.hearth_bin(), "-server.http-listen-port=%d" % port,
                                       "-server.http-listen-address=127.0.0.1", "-storage.path=" + os.path.join(tmp, "d")])
            try:
                lib.wait_ready("http://127.0.0.1:%d" % port)
                cli = [lib.hearth_cli_bin()] + argv[1:]
                r = lib.run([a.replace(":4040", ":%d" % port) for a in cli])
                self.assertEqual((r.returncode, r.stdout.strip()), (0, "ready"), r.stderr)
                procs.stop(p)
                r = lib.run([a.replace(":4040", ":%d" % port) for a in cli])
                self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
            except BaseException:
                sys.stderr.write(procs.tails() + "\n")
                raise
            finally:
                procs.stop_all()

    def test_dockerignore(self):
        with open(os.path.join(lib.SOURCE_ROOT, ".dockerignore")) as f:
            patterns = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
        ignored = lambda path: any(fnmatch.fnmatch(path, p) for p in patterns)  # noqa: E731
        for path in (".git", "build", "build-asan", "data"):
            self.assertTrue(ignored(path), path)
        # Nothing the build reads is excluded.
        tracked = subprocess.run(["git", "ls-files"], cwd=lib.SOURCE_ROOT, stdout=subprocess.PIPE,
                                 text=True).stdout.split()
        for path in tracked or ["CMakeLists.txt", "scripts/install-deps.sh"]:
            top = path.split("/")[0]
            self.assertFalse(ignored(top) or ignored(path), path + " is tracked but kept out of the image build")


if __name__ == "__main__":
    unittest.main(verbosity=2)
