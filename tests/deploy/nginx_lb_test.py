#!/usr/bin/python3
"""The scale-out setup without Docker: the real nginx (Debian nginx-light)
with the project's docker/nginx.conf, rewritten only in its upstream
addresses and listen port, in front of three llm_server processes on loopback
ports serving a tiny tokenizer + model made with the project's tools.

Checks, through nginx:
  * health (llm_client --health), GetInfo, Tokenize/Detokenize and a Complete
    stream work and give the same results as a replica asked directly;
  * calls reach more than one replica. Per-replica identity: GetInfo carries
    no server id, so each replica serves the same checkpoint copied under its
    own name (replica0, replica1, ...) and GetInfo().model.name tells which
    replica answered; for Complete, each replica's log ("complete #N") is
    counted;
  * after one replica is killed (SIGKILL), every subsequent call succeeds
    (nginx retries the dead peer's connection errors on another replica and
    then takes it out of rotation);
  * with every replica dead, calls fail with gRPC UNAVAILABLE (the config's
    @unavailable mapping), not an HTTP error.

Run by ctest as deploy_nginx_lb (exit 77 = skipped). Loopback only.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_util as du  # noqa: E402

N_REPLICAS = 3


def main():
    du.nginx_binary()
    client_bin = du.binary("client/llm_client")
    du.binary("server/llm_server")
    import grpc  # noqa: E402 (after the skip checks)

    tmp = tempfile.mkdtemp(prefix="llm_nginx_lb_")
    servers = []
    lb_proc = None
    ok = False
    try:
        assets = os.path.join(tmp, "assets")
        iteration = du.make_tiny_assets(assets, "base")
        ckpts = os.path.join(assets, "model_checkpoints")
        for i in range(N_REPLICAS):
            shutil.copytree(os.path.join(ckpts, "base"), os.path.join(ckpts, f"replica{i}"))
        for i in range(N_REPLICAS):
            servers.append(du.Server(assets, f"replica{i}", iteration, os.path.join(tmp, f"replica{i}.log")))
        ports = [s.port for s in servers]
        print("replicas on ports", ports)

        llm_pb2, llm_pb2_grpc = du.generate_stubs(os.path.join(tmp, "gen"))

        lb_proc = du.Nginx(os.path.join(tmp, "nginx"), ports)
        lb_port = lb_proc.port
        print("nginx on port", lb_port)

        lb = grpc.insecure_channel(f"127.0.0.1:{lb_port}")
        direct = grpc.insecure_channel(f"127.0.0.1:{ports[0]}")
        stub = llm_pb2_grpc.LlmServiceStub(lb)
        direct_stub = llm_pb2_grpc.LlmServiceStub(direct)
        timeout = 15

        # Health through nginx with the project's client (as the HEALTHCHECK does).
        r = du.run([client_bin, "--health", "--host", "127.0.0.1", "-p", str(lb_port), "--timeout", "5"],
                   timeout=30)
        assert "SERVING" in r.stdout, r.stdout

        # Round-robin: GetInfo answered by every replica.
        names = [stub.GetInfo(llm_pb2.GetInfoRequest(), timeout=timeout).model.name for _ in range(4 * N_REPLICAS)]
        print("GetInfo answered by", sorted(set(names)))
        assert len(set(names)) >= 2, f"all GetInfo calls reached one replica: {names}"

        # Tokenize / Detokenize through nginx == directly.
        text = b"The king and queen shall speak, my lord."
        via_lb = stub.Tokenize(llm_pb2.TokenizeRequest(text=text), timeout=timeout)
        want = direct_stub.Tokenize(llm_pb2.TokenizeRequest(text=text), timeout=timeout)
        assert list(via_lb.ids) == list(want.ids) and len(want.ids) > 0, (via_lb.ids, want.ids)
        assert b"".join(t.bytes for t in via_lb.tokens) == text
        back = stub.Detokenize(llm_pb2.DetokenizeRequest(ids=via_lb.ids), timeout=timeout)
        assert back.bytes == text, back

        # Complete (greedy: deterministic, and every replica has the same weights).
        def complete(s):
            msgs = list(s.Complete(llm_pb2.CompleteRequest(prompt=b"The king", max_tokens=6, temperature=0.0),
                                   timeout=timeout))
            last = msgs[-1]
            assert last.finish_reason == llm_pb2.FINISH_REASON_LENGTH, last
            assert last.usage.completion_tokens == 6, last
            return [i for m in msgs for i in m.token_ids], "".join(m.text for m in msgs)

        want_ids, want_text = complete(direct_stub)
        before = [len(re.findall(r"complete #\d+:", s.log_text())) for s in servers]
        for _ in range(2 * N_REPLICAS):
            ids, txt = complete(stub)
            assert ids == want_ids and txt == want_text, (ids, want_ids)
        after = [len(re.findall(r"complete #\d+:", s.log_text())) for s in servers]
        served = [a - b for a, b in zip(after, before)]
        print("Complete calls logged per replica:", served)
        assert sum(1 for n in served if n > 0) >= 2, f"Complete reached one replica only: {served}"

        # Kill one replica: nothing that follows may fail.
        victim = 1
        servers[victim].proc.kill()
        servers[victim].proc.wait(timeout=10)
        names = []
        for i in range(6 * N_REPLICAS):
            names.append(stub.GetInfo(llm_pb2.GetInfoRequest(), timeout=timeout).model.name)
            r = stub.Tokenize(llm_pb2.TokenizeRequest(text=text), timeout=timeout)
            assert list(r.ids) == list(want.ids)
            if i % 3 == 0:
                ids, _ = complete(stub)
                assert ids == want_ids
        print("after killing replica1, GetInfo answered by", sorted(set(names)))
        assert f"replica{victim}" not in names
        assert len(set(names)) == N_REPLICAS - 1, names

        # Every replica gone: a clean gRPC UNAVAILABLE from the load balancer.
        for s in servers:
            s.stop(signal.SIGKILL)
        try:
            stub.Tokenize(llm_pb2.TokenizeRequest(text=text), timeout=timeout)
            raise AssertionError("Tokenize succeeded with no replica alive")
        except grpc.RpcError as e:
            print("no replicas:", e.code(), e.details())
            assert e.code() == grpc.StatusCode.UNAVAILABLE, (e.code(), e.details())
        lb.close()
        direct.close()
        ok = True
        print("PASS")
    finally:
        for s in servers:
            s.stop()
        if lb_proc is not None:
            lb_proc.stop()
        if not ok:
            if lb_proc is not None:
                print(f"--- nginx\n{lb_proc.log_text()[-3000:]}")
            for name in sorted(os.listdir(tmp)):
                if name.endswith(".log"):
                    with open(os.path.join(tmp, name)) as f:
                        print(f"--- {name}\n{f.read()[-3000:]}")
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    start = time.time()
    rc = main()
    print(f"took {time.time() - start:.1f}s")
    sys.exit(rc)
