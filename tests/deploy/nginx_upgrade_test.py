#!/usr/bin/python3
"""Zero-downtime model upgrade behind nginx, as documented in the README
(Deploying > Upgrading the model): the real nginx with docker/nginx.conf in
front of two "old" llm_server replicas (model v1), under continuous client
load (Tokenize + GetInfo in a loop) and with a Complete stream in flight:

  1. start two "new" replicas (model v2, resumed from v1 for one more step);
  2. point nginx's upstream at the new replicas and reload it (SIGHUP, as
     `nginx -s reload`): new nginx workers send new calls to v2, old workers
     finish their calls on v1;
  3. SIGTERM the old replicas: they drain and exit 0.

Asserts that no call fails at any point, that the in-flight stream completes,
and that after the reload every call is answered by v2.
Run by ctest as deploy_nginx_upgrade (exit 77 = skipped). Loopback only.
"""

import os
import shutil
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_util as du  # noqa: E402


def main():
    du.nginx_binary()
    du.binary("server/llm_server")
    import grpc  # noqa: E402

    tmp = tempfile.mkdtemp(prefix="llm_nginx_upgrade_")
    old, new = [], []
    lb = None
    stop_load = threading.Event()
    ok = False
    try:
        assets = os.path.join(tmp, "assets")
        it1 = du.make_tiny_assets(assets, "v1")
        # v2: v1 trained one more step (checkpoint.3.bin).
        du.run([du.binary("tools/train_model"), "--assets", assets, "-n", "v2", "-s", "v1", "-c", str(it1),
                "-t", "tiny", "-nb", "1", "-bs", "2", "--eval_batches", "1", "-q"],
               env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
        it2 = it1 + 1
        old = [du.Server(assets, "v1", it1, os.path.join(tmp, f"old{i}.log")) for i in range(2)]
        llm_pb2, llm_pb2_grpc = du.generate_stubs(os.path.join(tmp, "gen"))
        lb = du.Nginx(os.path.join(tmp, "nginx"), [s.port for s in old])
        channel = grpc.insecure_channel(f"127.0.0.1:{lb.port}")
        stub = llm_pb2_grpc.LlmServiceStub(channel)

        # Continuous load: (time, model answering GetInfo) or errors.
        answers, errors = [], []

        def load():
            while not stop_load.is_set():
                try:
                    info = stub.GetInfo(llm_pb2.GetInfoRequest(), timeout=10)
                    answers.append((time.time(), info.model.name))
                    r = stub.Tokenize(llm_pb2.TokenizeRequest(text=b"my lord the king"), timeout=10)
                    if not r.ids:
                        errors.append("empty Tokenize")
                except grpc.RpcError as e:
                    errors.append(f"{e.code()}: {e.details()}")

        threads = [threading.Thread(target=load) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.3)

        # A stream on v1 in flight across the switch.
        stream = stub.Complete(llm_pb2.CompleteRequest(prompt=b"The king", max_tokens=2000, temperature=0.0),
                               timeout=60)
        first = next(stream)
        assert first.text or first.token_ids, first

        # 1. New replicas; 2. switch nginx to them.
        new = [du.Server(assets, "v2", it2, os.path.join(tmp, f"new{i}.log")) for i in range(2)]
        lb.reload([s.port for s in new])
        switch = time.time()
        deadline = switch + 15
        while time.time() < deadline:
            recent = [m for t, m in answers[-10:] if t > switch]
            if len(recent) == 10 and set(recent) == {"v2"}:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"nginx did not switch to v2: {answers[-10:]}")
        switched = time.time()

        # The old stream completes normally.
        rest = list(stream)
        last = rest[-1] if rest else first
        assert last.finish_reason == llm_pb2.FINISH_REASON_LENGTH, last
        assert last.usage.completion_tokens == 2000, last

        # 3. Drain and stop the old replicas.
        for s in old:
            s.proc.send_signal(signal.SIGTERM)
        for s in old:
            assert s.proc.wait(timeout=20) == 0
            assert "received SIGTERM" in s.log_text()
        time.sleep(0.5)
        stop_load.set()
        for t in threads:
            t.join(timeout=20)

        after = [m for t, m in answers if t > switched]
        print(f"{len(answers)} GetInfo+Tokenize pairs under load, {len(errors)} errors; "
              f"v1 answers {sum(m == 'v1' for _, m in answers)}, v2 answers {sum(m == 'v2' for _, m in answers)}; "
              f"switch took {switched - switch:.2f}s")
        assert not errors, errors[:5]
        assert after and set(after) == {"v2"}, set(after)
        assert any(m == "v1" for _, m in answers)
        channel.close()
        ok = True
        print("PASS")
    finally:
        stop_load.set()
        for s in old + new:
            s.stop()
        if lb is not None:
            lb.stop()
        if not ok:
            if lb is not None:
                print(f"--- nginx\n{lb.log_text()[-3000:]}")
            for name in sorted(os.listdir(tmp)):
                if name.endswith(".log"):
                    with open(os.path.join(tmp, name)) as f:
                        print(f"--- {name}\n{f.read()[-2000:]}")
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    start = time.time()
    rc = main()
    print(f"took {time.time() - start:.1f}s")
    sys.exit(rc)
