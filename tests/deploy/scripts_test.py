#!/usr/bin/python3
"""The container's scripts, run outside Docker:

  * docker/prepare.sh -> scripts/prepare_assets.sh prepares corpus splits,
    tokenizer, token files and a model into an empty assets dir (tiny
    settings via LLM_NUM_MERGES / LLM_MODEL_STEPS / LLM_TRAIN_ARGS), does
    nothing on a second run, and refuses to overwrite other checkpoints;
  * docker/server-entrypoint.sh configures llm_server from LLM_* variables,
    appends extra flags, and `exec`s it (same PID), so SIGTERM reaches the
    server, which drains and exits 0;
  * the Dockerfile's HEALTHCHECK command and the compose healthcheck succeed
    against that server, and fail when nothing listens.

Needs the corpus (assets/text/raw.txt or ../shared/data/shakespeare.txt);
skips (exit 77) without it. Run by ctest as deploy_scripts.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_util as du  # noqa: E402

SRC = du.SOURCE_DIR


def find_corpus():
    for p in (os.path.join(SRC, "assets", "text", "raw.txt"),
              os.path.join(os.environ.get("LLM_SHARED_DIR", os.path.join(SRC, "..", "shared")),
                           "data", "shakespeare.txt")):
        if os.path.isfile(p) and os.path.getsize(p) == 5458199:
            return os.path.abspath(p)
    return None


def main():
    corpus = find_corpus()
    if corpus is None:
        du.skip("corpus not found (assets/text/raw.txt or ../shared/data/shakespeare.txt)")
    server_bin = du.binary("server/llm_server")
    client_dir = os.path.dirname(du.binary("client/llm_client"))
    for t in ("download_data", "train_tokenizer", "tokenize_splits", "train_model"):
        du.binary("tools/" + t)

    tmp = tempfile.mkdtemp(prefix="llm_deploy_scripts_")
    proc = None
    try:
        assets = os.path.join(tmp, "volume")
        env = dict(os.environ,
                   LLM_ASSETS_DIR=assets,
                   LLM_BIN_DIR=os.path.join(du.BINARY_DIR, "tools"),
                   LLM_PREPARE_SCRIPT=os.path.join(SRC, "scripts", "prepare_assets.sh"),
                   LLM_CORPUS_FROM=corpus,
                   LLM_TOKENIZER="tok_small", LLM_NUM_MERGES="30",
                   LLM_MODEL="model_small", LLM_MODEL_STEPS="2", LLM_TRAIN_THREADS="1",
                   LLM_TRAIN_ARGS="--context 16 --n_blocks 1 --d_model 16 --n_heads 2 --d_head 8 --d_ff 32 -q",
                   OPENBLAS_NUM_THREADS="1")
        prepare = ["sh", os.path.join(SRC, "docker", "prepare.sh")]

        # 1. First run: every step.
        t0 = time.time()
        r = du.run(prepare, env=env, timeout=150)
        print(f"prepare (empty volume): {time.time() - t0:.1f}s")
        steps = re.findall(r"^==> (.*)$", r.stdout, re.M)
        assert len(steps) == 4, f"expected 4 steps, got {steps}\n{r.stdout}"
        for rel in ("text/train.txt", "text/val.txt", "text/test.txt", "bpe_checkpoints/tok_small/merges.txt",
                    "tokens/tok_small/train", "tokens/tok_small/val", "model_checkpoints/model_small/checkpoint.2.bin"):
            assert os.path.isfile(os.path.join(assets, rel)), f"missing {rel}\n{r.stdout}"
        with open(os.path.join(assets, "text", "train.txt"), "rb") as f:
            assert len(f.read()) == 3361047

        # 2. Second run: nothing to do.
        mtime = os.path.getmtime(os.path.join(assets, "model_checkpoints/model_small/checkpoint.2.bin"))
        t0 = time.time()
        r = du.run(prepare, env=env, timeout=30)
        print(f"prepare (ready volume): {time.time() - t0:.2f}s")
        assert "==>" not in r.stdout, r.stdout
        assert "assets ready" in r.stdout, r.stdout
        assert os.path.getmtime(os.path.join(assets, "model_checkpoints/model_small/checkpoint.2.bin")) == mtime

        # 3. Another iteration of an existing model: refuse, name what exists.
        r = du.run(prepare, env=dict(env, LLM_MODEL_STEPS="3"), timeout=30, check=False)
        assert r.returncode == 1, r.stdout
        assert "checkpoint.2.bin" in r.stdout and "LLM_MODEL_STEPS" in r.stdout, r.stdout

        # 4. The image's entrypoint: env config + extra flags, exec, SIGTERM drain.
        senv = dict(env, LLM_SERVER_BIN=server_bin, LLM_HOST="127.0.0.1", LLM_PORT="50051",
                    LLM_GRACE_PERIOD="2")
        senv.pop("LLM_CHECKPOINT_ITER", None)  # falls back to LLM_MODEL_STEPS (2)
        log_path = os.path.join(tmp, "server.log")
        log = open(log_path, "w")
        # The extra `--port 0` overrides LLM_PORT (last flag wins).
        proc = subprocess.Popen(["sh", os.path.join(SRC, "docker", "server-entrypoint.sh"), "--port", "0",
                                 "--threads", "1"], stdout=subprocess.PIPE, stderr=log, text=True, env=senv)
        port = du.wait_listening(proc, log_path)
        assert port != 50051, "the extra --port 0 did not override LLM_PORT"
        exe = os.path.realpath(f"/proc/{proc.pid}/exe")
        assert os.path.basename(exe) == "llm_server", f"PID {proc.pid} is {exe}: the script did not exec"

        # 5. HEALTHCHECK of the Dockerfile (shell form) and of the compose file.
        with open(os.path.join(SRC, "docker", "Dockerfile")) as f:
            df = re.sub(r"\\\n", " ", f.read())
        hc = re.search(r"^HEALTHCHECK .*? CMD (.*)$", df, re.M).group(1)
        henv = dict(os.environ, PATH=client_dir + os.pathsep + os.environ["PATH"], LLM_PORT=str(port))
        r = subprocess.run(["/bin/sh", "-c", hc], env=henv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=30)
        assert r.returncode == 0 and "SERVING" in r.stdout, (hc, r.returncode, r.stdout)
        import yaml  # noqa: E402
        with open(os.path.join(SRC, "docker", "docker-compose.yml")) as f:
            test = yaml.safe_load(f)["services"]["server"]["healthcheck"]["test"]
        assert test[0] == "CMD"
        cmd = [os.path.join(client_dir, "llm_client") if a == "llm_client" else (str(port) if a == "50051" else a)
               for a in test[1:]]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
        assert r.returncode == 0 and "SERVING" in r.stdout, (cmd, r.stdout)
        print("healthchecks:", shlex.join(["sh", "-c", hc]), "and", shlex.join(cmd), "-> SERVING")

        # 6. SIGTERM to the container's main process = to llm_server: exit 0.
        t0 = time.time()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
        log.close()
        with open(log_path) as f:
            server_log = f.read()
        assert rc == 0, f"exit {rc}\n{server_log}"
        assert "received SIGTERM" in server_log, server_log
        assert "loaded model 'model_small' iteration 2" in server_log, server_log
        print(f"SIGTERM -> exit 0 in {time.time() - t0:.2f}s")
        proc = None

        # 7. Nothing listening: the HEALTHCHECK fails (exit 1).
        r = subprocess.run(["/bin/sh", "-c", hc], env=henv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=30)
        assert r.returncode == 1, (r.returncode, r.stdout)
        print("PASS")
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
