#!/usr/bin/env python3
"""Native-host benchmark (BENCHMARKS.md), driven like a browser's connectNative:
one certwatch-host process, many framed requests over its stdin.

  python3 tests/bench/host_bench.py TARGET_DIR [N]

1. 100,000 sites in the history DB (store_bench example with STORE_BENCH_DB);
2. `check {host}` for a known site (loopback openssl s_server): classify,
   judge against history, record; the probe comes from the host's cache
   (default) or a new TLS handshake (CERTWATCH_PROBE_CACHE=0);
3. `check {host, chain}` with a real 3-certificate chain carrying 3 SCTs
   (google.com from ../shared/data) and Google's signed log list in the
   cache: SCT verification + the host's own probe for the comparison;
4. both again with certwatchd running: the host relays over its socket.
Prints p50/p99 round-trip times.
"""
import base64, json, os, socket, struct, subprocess, sys, tempfile, time

target = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
shared = os.path.join(root, "..", "shared", "data")
work = tempfile.mkdtemp()
home = os.path.join(work, "home")
os.makedirs(home, mode=0o700)
env = dict(os.environ, CERTWATCH_HOME=home, CERTWATCH_NO_CAA="1", NO_COLOR="1")

t = time.time()
subprocess.run([os.path.join(target, "examples", "store_bench"), "100000", "1"],
               env=dict(env, STORE_BENCH_DB=os.path.join(home, "certwatch.db")),
               check=True, stdout=subprocess.DEVNULL)
print(f"filled the DB with 100,000 sites in {time.time()-t:.1f} s")

def sh(*a):
    subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
   "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=Host Bench Root/O=Bench")
sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
   "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
open(os.path.join(work, "ext"), "w").write("subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n")
sh("openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
   "-out", "leaf.pem", "-days", "30", "-extfile", "ext")
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
server = subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-cert", "leaf.pem", "-key", "leaf.key",
                           "-cert_chain", "ca.pem", "-quiet", "-naccept", "1000000"], cwd=work,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); break
    except OSError:
        time.sleep(0.05)

chain = None
if os.path.isdir(shared):
    cw = os.path.join(target, "certwatch")
    lists = os.path.join(shared, "ct_log_lists")
    subprocess.run([cw, "ct", "update", "--from", os.path.join(lists, "google_log_list_v3_v80.14_2026-01-02.json"),
                    "--sig", os.path.join(lists, "google_log_list_v3_v80.14_2026-01-02.sig")], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    case = json.load(open(os.path.join(shared, "chains", "x509_limbo_online", "google.com.limbo.json")))
    case = case["testcases"][0] if "testcases" in case else case
    pems = [case["peer_certificate"]] + case["untrusted_intermediates"] + case["trusted_certs"]
    def der(pem):
        body = "".join(l for l in pem.strip().splitlines() if not l.startswith("-----"))
        return base64.b64encode(base64.b64decode(body)).decode()
    chain = [der(p) for p in pems]
else:
    print("chain benchmark skipped: ../shared/data is absent")

# The bench CA is a root installed on this machine (local), accepted once:
# its repeat verdict is `ok`, as for a known public site (which the bench
# cannot mint: a public chain needs SCTs). The real chain below validates to
# the built-in Mozilla roots.
HOST_ENV = dict(env, CERTWATCH_LOCAL_ROOTS=os.path.join(work, "ca.pem"))
if chain:
    # The list google.com's SCTs were verified against (not the built-in,
    # newer one, where those 2025 logs are no longer usable).
    HOST_ENV["CERTWATCH_LOG_LIST"] = os.path.join(lists, "google_log_list_v3_v80.14_2026-01-02.json")

def pem_der_b64(path):
    body = "".join(l for l in open(os.path.join(work, path)).read().strip().splitlines() if not l.startswith("-----"))
    return body
own_chain = [pem_der_b64("leaf.pem"), pem_der_b64("ca.pem")]

def start_host(extra):
    return subprocess.Popen([os.path.join(target, "certwatch-host"), "chrome-extension://nidhmbphhnpnodopclngimahlhkpiejl/"],
                            env=dict(HOST_ENV, **extra),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

def rpc(host, msg):
    body = json.dumps(msg).encode()
    host.stdin.write(struct.pack("=I", len(body)) + body); host.stdin.flush()
    ln = struct.unpack("=I", host.stdout.read(4))[0]
    return json.loads(host.stdout.read(ln))

def bench(host, name, msg):
    r = rpc(host, msg)  # warm-up, and the first sighting
    rpc(host, {"type": "accept", "host": msg["host"], "port": msg["port"]})
    r = rpc(host, msg)
    if not r.get("ok"):
        print(name, "error:", r.get("error")); return
    times = []
    for i in range(n):
        t = time.perf_counter(); r = rpc(host, dict(msg, id=i)); times.append((time.perf_counter() - t) * 1000)
    times.sort()
    res = r["result"]
    print(f"{name}: n={n} p50 {times[len(times)//2]:.2f} ms, p99 {times[int(len(times)*0.99)]:.2f} ms "
          f"(severity {res['severity']}, probe_cached {res.get('probe_cached')}, backend {res.get('backend')}, "
          f"ct_policy {(res.get('ct_policy') or {}).get('status')})")

def run_all(label, extra):
    host = start_host(extra)
    bench(host, f"[{label}] check {{host}} (known site)", {"type": "check", "host": "localhost", "port": port})
    bench(host, f"[{label}] check {{host, chain}} (Firefox: the site's own chain)",
          {"type": "check", "host": "localhost", "port": port, "chain": own_chain, "tls_state": "secure",
           "is_builtin_root": False})
    if chain:
        # Another site (127.0.0.1): google.com's chain there differs from the
        # host's own probe (critical), so every request probes again.
        bench(host, f"[{label}] check {{host, chain: 3 certs, 3 SCTs}} (differs from the probe: never cached)",
              {"type": "check", "host": "127.0.0.1", "port": port, "chain": chain, "tls_state": "secure",
               "is_builtin_root": True})
    host.stdin.close(); host.wait()

# 1. The host on its own: its probe cache (the default), then without it.
run_all("direct, probe cache", {})
run_all("direct, no cache: a TLS probe per request", {"CERTWATCH_PROBE_CACHE": "0"})
# 2. certwatchd running: the host relays each request over its socket.
with open(os.path.join(home, "config.toml"), "w") as f:
    f.write('caa = false\nct_refresh = false\nccadb_refresh = false\nnotifications = false\n')
daemon = subprocess.Popen([os.path.join(target, "certwatchd")], env=HOST_ENV,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(200):
    if os.path.exists(os.path.join(home, "certwatchd.sock")):
        break
    time.sleep(0.05)
run_all("through certwatchd, probe cache", {})
daemon.terminate(); daemon.wait(); server.kill()
