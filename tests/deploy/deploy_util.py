"""Helpers shared by the deployment tests (run with /usr/bin/python3).

Locating the build and source trees, making a tiny tokenizer + model with the
project's own tools, starting llm_server processes and reading their
"listening on HOST:PORT" line, and generating the Python gRPC stubs from
proto/ at test time.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

SOURCE_DIR = os.environ.get("LLM_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY_DIR = os.environ.get("LLM_BINARY_DIR") or os.path.join(SOURCE_DIR, "build")

# ctest's SKIP_RETURN_CODE for these tests.
SKIP = 77


def skip(reason):
    """Prints why the test is skipped and exits with the skip code."""
    print(f"SKIPPED: {reason}")
    sys.exit(SKIP)


def binary(rel):
    """Path of a built binary (e.g. "server/llm_server"); skips if missing."""
    path = os.path.join(BINARY_DIR, rel)
    if not os.access(path, os.X_OK):
        skip(f"{path} is not built (build the project first)")
    return path


def run(cmd, timeout=120, env=None, check=True):
    """Runs cmd; returns CompletedProcess (stdout+stderr merged, text)."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}")
    return r


def tiny_text(n_lines, seed):
    """Deterministic English-like text: enough structure for a few merges."""
    words = ("the king and queen of the land shall speak to thee my lord "
             "what is this that thou hast done good night sweet prince").split()
    x = seed
    lines = []
    for _ in range(n_lines):
        ws = []
        for _ in range(8):
            x = (x * 1103515245 + 12345) % (1 << 31)
            ws.append(words[(x >> 16) % len(words)])
        lines.append(" ".join(ws).capitalize() + ".")
    return "\n".join(lines) + "\n"


def make_tiny_assets(assets, model_name="tiny_model"):
    """Creates tokenizer "tiny" and model MODEL_NAME (iteration 2) in ASSETS
    with the project's tools, in a couple of seconds. Returns the iteration."""
    text_dir = os.path.join(assets, "text")
    os.makedirs(text_dir, exist_ok=True)
    for split, n, seed in (("train", 300, 1), ("val", 60, 2), ("test", 60, 3)):
        with open(os.path.join(text_dir, split + ".txt"), "w") as f:
            f.write(tiny_text(n, seed))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    tools = os.path.join(BINARY_DIR, "tools")
    run([binary("tools/train_tokenizer"), "--assets", assets, "-n", "tiny", "-m", "40", "--no-verbose"],
        env=env)
    run([os.path.join(tools, "tokenize_splits"), "--assets", assets, "-n", "tiny"], env=env)
    run([binary("tools/train_model"), "--assets", assets, "-y", "-n", model_name, "-t", "tiny",
         "--context", "16", "--n_blocks", "1", "--d_model", "16", "--n_heads", "2", "--d_head", "8",
         "--d_ff", "32", "-bs", "2", "-nb", "2", "--eval_batches", "1", "-q"], env=env)
    return 2


class Server:
    """An llm_server child process on a loopback port chosen by the OS."""

    def __init__(self, assets, model, iteration, log_path, extra=()):
        self.log_path = log_path
        self.log = open(log_path, "w")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [binary("server/llm_server"), "--assets", assets, "-t", "tiny", "-n", model,
             "-c", str(iteration), "--host", "127.0.0.1", "--port", "0", "--threads", "1",
             "--grace_period", "1", *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        self.port = wait_listening(self.proc, log_path)

    def log_text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=None):
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_listening(proc, log_path, timeout=60):
    """Reads PROC's stdout until "listening on HOST:PORT"; returns PORT."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.match(r"listening on .*:(\d+)\s*$", line)
        if m:
            return int(m.group(1))
    proc.kill()
    with open(log_path) as f:
        raise AssertionError(f"server did not report 'listening on' (exit {proc.poll()}):\n{f.read()}")


def free_port():
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20):
    """Waits until 127.0.0.1:PORT accepts connections (PROC must stay alive)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def generate_stubs(out_dir):
    """Generates llm/v1/llm_pb2{,_grpc}.py from proto/ into OUT_DIR with
    Debian's protoc and grpc_python_plugin (python3-grpc-tools' bundled protoc
    is too old for proto3 `optional`) and puts OUT_DIR on sys.path. Returns
    (llm_pb2, llm_pb2_grpc)."""
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if not protoc or not plugin:
        skip("protoc / grpc_python_plugin not installed (protobuf-compiler, protobuf-compiler-grpc)")
    try:
        import grpc  # noqa: F401
    except ImportError:
        skip("python3-grpcio is not installed (run with /usr/bin/python3)")
    os.makedirs(out_dir, exist_ok=True)
    proto_dir = os.path.join(SOURCE_DIR, "proto")
    run([protoc, f"-I{proto_dir}", f"--python_out={out_dir}", f"--grpc_out={out_dir}",
         f"--plugin=protoc-gen-grpc={plugin}", os.path.join(proto_dir, "llm/v1/llm.proto")])
    sys.path.insert(0, out_dir)
    from llm.v1 import llm_pb2, llm_pb2_grpc  # pylint: disable=import-outside-toplevel
    return llm_pb2, llm_pb2_grpc


def rewrite_nginx_conf(conf, replica_ports, listen_port):
    """docker/nginx.conf with the upstream's server lines replaced by loopback
    replicas (keeping their parameters) and the listen port replaced.
    Everything else is kept byte for byte (asserted)."""
    up = re.search(r"(upstream\s+llm_servers\s*\{)(.*?)(\n\s*\})", conf, re.S)
    assert up, "docker/nginx.conf has no `upstream llm_servers { ... }` block"
    body = up.group(2)
    server_line = re.compile(r"^([ \t]*)server[ \t]+\S+:\d+([^;\n]*);[ \t]*\n", re.M)
    first = server_line.search(body)
    assert first, "the upstream block lists no `server HOST:PORT ...;` line"
    indent, params = first.group(1), first.group(2)
    new_lines = "".join(f"{indent}server 127.0.0.1:{p}{params};\n" for p in replica_ports)
    # The first server line becomes the replica list; the others go.
    new_body = server_line.sub(lambda m: new_lines if m.start() == first.start() else "", body)
    out = conf[:up.start(2)] + new_body + conf[up.end(2):]
    out, n = re.subn(r"listen\s+\d+(\s+http2)?;", f"listen 127.0.0.1:{listen_port} http2;", out)
    assert n == 1, f"expected one `listen PORT http2;` line, found {n}"
    # Only the upstream's server lines and the listen line may differ.
    changed = set(conf.splitlines()) ^ set(out.splitlines())
    for line in changed:
        s = line.strip()
        assert s == "" or s.startswith("server ") or s.startswith("listen "), f"unexpected change: {line!r}"
    return out


def nginx_binary():
    """Path of nginx; skips if it is not installed."""
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if not path:
        skip("nginx is not installed (Debian package nginx-light, scripts/install_deps.sh)")
    return path


class Nginx:
    """nginx in the foreground with docker/nginx.conf rewritten to the given
    loopback replica ports, all its files under PREFIX (as the `lb` image
    runs it: nginx -p PREFIX -c CONF -e stderr -g 'daemon off;')."""

    def __init__(self, prefix, replica_ports):
        self.nginx = nginx_binary()
        with open(os.path.join(SOURCE_DIR, "docker", "nginx.conf")) as f:
            self.original = f.read()
        self.prefix = prefix
        os.makedirs(prefix, exist_ok=True)
        self.conf = os.path.join(prefix, "nginx.conf")
        self.log_path = os.path.join(prefix, "nginx.log")
        self.proc = None
        for _ in range(3):  # the free port may be taken in between: retry
            self.port = free_port()
            self.write_conf(replica_ports)
            run(self.base() + ["-t", "-g", "daemon off;"], timeout=30)
            self.log = open(self.log_path, "a")
            self.proc = subprocess.Popen(self.base() + ["-g", "daemon off;"], stdout=self.log,
                                         stderr=subprocess.STDOUT)
            if wait_port(self.port, self.proc):
                return
            self.proc.wait(timeout=10)
            self.log.close()
        raise AssertionError(f"nginx did not start:\n{self.log_text()}")

    def base(self):
        return [self.nginx, "-p", self.prefix + "/", "-c", self.conf, "-e", "stderr"]

    def write_conf(self, replica_ports):
        with open(self.conf, "w") as f:
            f.write(rewrite_nginx_conf(self.original, replica_ports, self.port))

    def reload(self, replica_ports):
        """New upstream list, checked with -t, then SIGHUP (= nginx -s reload):
        new workers take new calls, old ones finish theirs and exit."""
        self.write_conf(replica_ports)
        run(self.base() + ["-t", "-g", "daemon off;"], timeout=30)
        self.proc.send_signal(signal.SIGHUP)

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()
