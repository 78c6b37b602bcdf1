#!/usr/bin/python3
"""Static checks of the Docker deployment, for machines without a Docker
engine: docker/docker-compose.yml (parsed with python3-yaml), docker/Dockerfile,
.dockerignore, docker/nginx.conf and the entrypoint scripts.

Run by ctest as deploy_compose_structure (exit 77 = skipped).
"""

import os
import re
import shlex
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_util as du  # noqa: E402

try:
    import yaml
except ImportError:
    du.skip("python3-yaml is not installed (run with /usr/bin/python3)")

SRC = du.SOURCE_DIR


def read(rel):
    with open(os.path.join(SRC, rel)) as f:
        return f.read()


def seconds(duration):
    """Compose duration ("25s", "1m30s", "500ms", 10) in seconds."""
    if isinstance(duration, (int, float)):
        return float(duration)
    total, rest = 0.0, str(duration).strip()
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", rest):
        total += float(value) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    if not re.fullmatch(r"((\d+(\.\d+)?)(ms|us|h|m|s))+", rest):
        raise ValueError(f"bad duration {duration!r}")
    return total


def default_of(value):
    """"${VAR:-default}" -> "default"; plain values unchanged."""
    m = re.fullmatch(r"\$\{\w+:?-([^}]*)\}", str(value))
    return m.group(1) if m else str(value)


def as_list(cmd):
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd or [])


def dockerfile_stages(text):
    """Dockerfile -> {stage name: [(INSTRUCTION, arguments)]} (continuations joined)."""
    text = re.sub(r"\\\n", " ", text)
    stages, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, args = line.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            m = re.search(r"\bAS\s+(\S+)", args, re.I)
            current = m.group(1) if m else f"stage{len(stages)}"
            stages[current] = [(instr, args)]
        elif current is not None:
            stages[current].append((instr, args.strip()))
    return stages


class ComposeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.compose = yaml.safe_load(read("docker/docker-compose.yml"))
        cls.services = cls.compose["services"]

    def service(self, name):
        self.assertIn(name, self.services, f"service {name!r} missing")
        return self.services[name]

    def env(self, svc):
        env = svc.get("environment", {})
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        return {k: default_of(v) for k, v in env.items()}

    def test_services_present(self):
        for name in ("prepare", "server", "client", "replica", "lb"):
            self.service(name)

    def test_assets_volume(self):
        self.assertIn("assets", self.compose.get("volumes", {}))
        prep = self.service("prepare")
        self.assertIn("assets:/data/assets", prep["volumes"])  # read-write for the job
        for name in ("server", "replica"):
            self.assertIn("assets:/data/assets:ro", self.service(name)["volumes"], name)
            self.assertEqual(self.env(self.service(name))["LLM_ASSETS_DIR"], "/data/assets")
        self.assertEqual(self.env(prep)["LLM_ASSETS_DIR"], "/data/assets")

    def test_prepare_is_a_one_shot_job(self):
        prep = self.service("prepare")
        self.assertEqual(as_list(prep["entrypoint"]), ["/usr/local/bin/llm-prepare"])
        self.assertEqual(str(prep.get("restart", "no")), "no")
        self.assertNotIn("profiles", prep)  # runs on every `up`
        self.assertTrue(prep.get("healthcheck", {}).get("disable"))

    def check_server_like(self, name):
        svc = self.service(name)
        self.assertEqual(svc["depends_on"]["prepare"]["condition"], "service_completed_successfully", name)
        env = self.env(svc)
        self.assertEqual(env["LLM_HOST"], "0.0.0.0", f"{name} must bind all interfaces explicitly")
        self.assertEqual(env["LLM_PORT"], "50051")
        self.assertIn("50051", [str(p) for p in svc.get("expose", [])], name)
        # Healthcheck: the gRPC health service through the project's client.
        test = as_list(svc["healthcheck"]["test"])
        self.assertIn(test[0], ("CMD", "CMD-SHELL"))
        self.assertIn("llm_client", " ".join(test))
        self.assertIn("--health", test)
        self.assertIn(svc.get("restart"), ("always", "unless-stopped", "on-failure"), name)
        limits = svc["deploy"]["resources"]["limits"]
        self.assertIn("cpus", limits)
        self.assertIn("memory", limits)
        # docker stop waits longer than the server drains.
        grace = float(env.get("LLM_GRACE_PERIOD", "10"))
        cmd = as_list(svc.get("command"))
        if "--grace_period" in cmd:
            grace = float(cmd[cmd.index("--grace_period") + 1])
        self.assertGreater(seconds(svc["stop_grace_period"]), grace + 5, name)
        self.assertEqual(svc.get("stop_signal", "SIGTERM"), "SIGTERM")
        self.assertNotIn("entrypoint", svc)  # the image's exec-form entrypoint
        return svc

    def test_server(self):
        svc = self.check_server_like("server")
        self.assertNotIn("profiles", svc)
        self.assertTrue(any(str(p).endswith(":50051") for p in svc["ports"]), svc["ports"])

    def test_client(self):
        svc = self.service("client")
        ep = as_list(svc["entrypoint"])
        self.assertTrue(ep[0].endswith("llm_client"), ep)
        self.assertEqual(ep[ep.index("--host") + 1], "server")
        self.assertEqual(ep[ep.index("-p") + 1], "50051")
        self.assertEqual(svc["depends_on"]["server"]["condition"], "service_healthy")
        self.assertTrue(svc.get("stdin_open") and svc.get("tty"))
        self.assertIn("-e", as_list(svc["command"]))
        self.assertTrue(svc.get("profiles"), "client must not start with `up`")

    def test_scale_profile(self):
        rep = self.check_server_like("replica")
        self.assertEqual(rep["profiles"], ["scale"])
        self.assertGreaterEqual(int(rep["deploy"]["replicas"]), 2)
        self.assertNotIn("ports", rep)  # reached through the load balancer only
        lb = self.service("lb")
        self.assertEqual(lb["profiles"], ["scale"])
        self.assertEqual(lb["build"]["target"], "lb")
        for dep in ("server", "replica"):
            self.assertEqual(lb["depends_on"][dep]["condition"], "service_healthy")
        self.assertTrue(any(str(p).endswith(":50050") for p in lb["ports"]), lb["ports"])
        self.assertIn(lb.get("restart"), ("always", "unless-stopped", "on-failure"))

    def test_nginx_conf_matches_compose(self):
        conf = read("docker/nginx.conf")
        up = re.search(r"upstream\s+llm_servers\s*\{(.*?)\n\s*\}", conf, re.S)
        self.assertIsNotNone(up)
        servers = re.findall(r"^\s*server\s+([\w.-]+):(\d+)([^;]*);", up.group(1), re.M)
        self.assertEqual({h for h, _, _ in servers}, {"server", "replica"})
        for host, port, params in servers:
            self.assertEqual(port, self.env(self.service(host))["LLM_PORT"])
            self.assertRegex(params, r"max_fails=\d+")
            self.assertRegex(params, r"fail_timeout=\d+")
        self.assertRegex(conf, r"listen\s+50050\s+http2;")
        self.assertIn("grpc_pass grpc://llm_servers;", conf)
        # Retries: unary calls on errors/timeouts, Complete only on connection errors.
        unary = re.search(r"location ~ \^/\(llm\\\.v1\\\.LlmService/\(([^)]*)\)(.*?)\n    \}", conf, re.S)
        self.assertIsNotNone(unary)
        self.assertEqual(set(unary.group(1).split("|")),
                         {"Tokenize", "TokenizeBatch", "CountTokens", "Detokenize", "GetInfo"})
        self.assertRegex(unary.group(2), r"grpc_next_upstream error timeout non_idempotent;")
        complete = re.search(r"location = /llm\.v1\.LlmService/Complete \{(.*?)\n    \}", conf, re.S)
        self.assertIsNotNone(complete)
        self.assertRegex(complete.group(1), r"grpc_next_upstream error;")
        self.assertNotIn("non_idempotent", complete.group(1))


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.text = read("docker/Dockerfile")
        cls.stages = dockerfile_stages(cls.text)

    def instrs(self, stage, name):
        return [a for i, a in self.stages[stage] if i == name]

    def test_stages_on_bookworm(self):
        self.assertEqual(list(self.stages), ["build", "runtime", "lb"])
        self.assertRegex(self.text, r"ARG DEBIAN_IMAGE=debian:bookworm\n")
        self.assertRegex(self.text, r"ARG DEBIAN_SLIM_IMAGE=debian:bookworm-slim\n")

    def test_build_stage_is_ci(self):
        runs = " ".join(self.instrs("build", "RUN"))
        self.assertIn("bash scripts/install_deps.sh", runs)
        # The configure + build lines of scripts/test.sh (what CI runs).
        test_sh = read("scripts/test.sh")
        configure = re.search(r"cmake -S \. -B \"\$BUILD_DIR\" (.*)", test_sh).group(1).strip()
        self.assertIn(f"cmake -S . -B build {configure}", runs)
        self.assertIn("cmake --build build -j", runs)

    def test_runtime_stage(self):
        users = self.instrs("runtime", "USER")
        self.assertEqual(len(users), 1)
        user = users[0].split(":")[0]
        self.assertNotIn(user, ("root", "0"))
        hc = self.instrs("runtime", "HEALTHCHECK")
        self.assertEqual(len(hc), 1)
        self.assertRegex(hc[0], r"CMD llm_client --health ")
        ep = self.instrs("runtime", "ENTRYPOINT")
        self.assertEqual(len(ep), 1)
        self.assertTrue(ep[0].startswith("["), "ENTRYPOINT must be exec form (JSON array)")
        copies = " ".join(self.instrs("runtime", "COPY"))
        self.assertIn("--from=build", copies)
        installs = " ".join(self.instrs("runtime", "RUN"))
        self.assertNotRegex(installs, r"-dev\b|build-essential|cmake")
        # The entrypoint script hands the process over to the server.
        script = read("docker/server-entrypoint.sh").strip().splitlines()
        body = [l for l in script if l.strip() and not l.lstrip().startswith("#")]
        exec_at = [i for i, l in enumerate(body) if l.lstrip().startswith("exec ")]
        self.assertEqual(len(exec_at), 1)
        self.assertTrue(all(l.rstrip().endswith("\\") for l in body[exec_at[0]:-1]), "exec must be the last command")
        self.assertIn("llm_server", body[exec_at[0]])

    def test_lb_stage(self):
        self.assertIn("nginx-light", " ".join(self.instrs("lb", "RUN")))
        self.assertIn("docker/nginx.conf /etc/nginx/llm.conf", self.instrs("lb", "COPY"))
        self.assertNotIn(self.instrs("lb", "USER")[0].split(":")[0], ("root", "0"))
        self.assertTrue(self.instrs("lb", "ENTRYPOINT")[0].startswith("["))

    def test_scripts_executable(self):
        for rel in ("docker/server-entrypoint.sh", "docker/prepare.sh", "scripts/prepare_assets.sh"):
            self.assertTrue(os.access(os.path.join(SRC, rel), os.X_OK), rel)
            self.assertIn(rel, self.text)

    def test_dockerignore(self):
        lines = {l.strip() for l in read(".dockerignore").splitlines() if l.strip() and not l.startswith("#")}
        for pattern in ("build*/", "assets", "**/node_modules"):
            self.assertIn(pattern, lines)

    def test_runtime_packages_cover_ldd(self):
        """Every shared library the shipped binaries load comes from a package
        the runtime stage installs (or one of their dependencies, or the base
        image's required packages)."""
        bins = ["server/llm_server", "client/llm_client", "tools/download_data", "tools/train_tokenizer",
                "tools/tokenize_splits", "tools/train_model", "tools/evaluate_model", "tools/generate_text"]
        paths = [os.path.join(du.BINARY_DIR, b) for b in bins]
        if not all(os.access(p, os.X_OK) for p in paths):
            self.skipTest(f"binaries not built in {du.BINARY_DIR}")
        m = re.search(r"apt-get install -y --no-install-recommends(.*?)&&", " ".join(self.instrs("runtime", "RUN")))
        listed = set(m.group(1).split())
        libs = set()
        for p in paths:
            out = subprocess.run(["ldd", p], stdout=subprocess.PIPE, text=True, check=True).stdout
            self.assertNotIn("not found", out, p)
            libs |= {os.path.realpath(x) for x in re.findall(r"=> (\S+) \(", out)}
        # dpkg -S knows the unmerged paths (/lib/...) too: ask for both at once.
        queries = sorted(libs | {re.sub(r"^/usr/lib/", "/lib/", l) for l in libs})
        out = subprocess.run(["dpkg", "-S", *queries], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True).stdout
        owner = {}
        for line in out.splitlines():
            pkg, _, path = line.partition(": ")
            owner[path.strip()] = pkg.split(":")[0]
        needed = set()
        for lib in sorted(libs):
            pkg = owner.get(lib) or owner.get(re.sub(r"^/usr/lib/", "/lib/", lib))
            self.assertIsNotNone(pkg, f"no package owns {lib}")
            needed.add(pkg)
        covered = closure(listed | required_packages() | {"apt"})
        missing = sorted(needed - covered)
        self.assertEqual(missing, [], f"runtime stage lacks packages for: {missing}")
        # And nothing listed is unused (the list is exact), except certificates for HTTPS.
        unused = sorted(listed - closure_inverse_needed(needed, listed) - {"ca-certificates"})
        self.assertEqual(unused, [], f"listed but not needed by any binary: {unused}")


_DEPENDS = None


def installed_depends(pkg):
    """Names in PKG's Depends/Pre-Depends (every alternative), from one
    dpkg-query over all installed packages."""
    global _DEPENDS
    if _DEPENDS is None:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Depends}, ${Pre-Depends}\n"],
                             stdout=subprocess.PIPE, text=True, check=True).stdout
        _DEPENDS = {}
        for line in out.splitlines():
            name, _, deps = line.partition("\t")
            names = {re.sub(r"[ (:].*", "", a.strip()) for alt in deps.split(",") for a in alt.split("|")}
            _DEPENDS.setdefault(name, set()).update(n for n in names if n)
    return _DEPENDS.get(pkg, set())


def closure(pkgs):
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(installed_depends(p) - seen)
    return seen


def closure_inverse_needed(needed, listed):
    """The listed packages that are needed or pull in a needed one."""
    return {p for p in listed if p in needed or closure({p}) & needed}


def required_packages():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Priority}\n"], stdout=subprocess.PIPE, text=True)
    return {l.split()[0] for l in r.stdout.splitlines() if l.endswith(" required")}


if __name__ == "__main__":
    unittest.main(verbosity=2)
