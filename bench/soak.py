#!/usr/bin/env python3
"""Soak test: the real ptserve binary under the seed's Locust load for a long time, checking
that its resources stay flat.

Starts build/src/server/ptserve on the example models (`--default-model mlp`), runs the seed's
Locust user (bench/locust/locustfile.py: POST /predict with 784 floats, 0.5-2 s think time)
headless with --users users, and samples the server's resident memory (VmRSS), thread count
(Threads) from /proc/<pid>/status and open file descriptors (entries of /proc/<pid>/fd) every
--interval seconds.

Pass criteria (all must hold):
  - zero failed requests (Locust's "Failure Count", Aggregated row; a response fails unless it
    is HTTP 200 with a 10-value "prediction") and at least one request;
  - the server is alive at the end and exits 0 on SIGTERM;
  - all --users are connected: Locust reports them spawned ("All users spawned") and the server
    holds at least --users descriptors (each user keeps one keep-alive connection; on a busy
    host users connect well after they are spawned);
  - for each series, over the samples taken from --warmup seconds after all users were
    connected to the end of the load at --seconds (samples after --seconds, while Locust stops
    its users, do not count):
        min >= (1 - tolerance) * median  and  max <= (1 + tolerance) * median
    with tolerance 0.05 (±5 %).
Informational: each series' drift (median of the last quarter of the post-warm-up samples over
the median of the first quarter) and the request rate.

    /usr/bin/python3 bench/soak.py --seconds 120          # what CI runs (scripts/soak.sh)
    /usr/bin/python3 bench/soak.py --seconds 1800         # the 30-minute soak

Writes the samples to <out>/soak_samples.csv and Locust's CSVs to <out>/locust_*.csv.
Exits 0 on pass, 1 on a failed criterion, 2 when it could not run.
"""
import argparse
import csv
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def read_proc(pid):
    """(rss_mb, threads, fds) of a live process."""
    rss_kb = threads = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss_kb / 1024.0, threads, fds


def quarter_drift(values):
    q = max(1, len(values) // 4)
    return statistics.median(values[-q:]) / statistics.median(values[:q])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.environ.get("PTSERVE_BUILD_DIR", os.path.join(ROOT, "build")))
    p.add_argument("--repository", default=os.path.join(ROOT, "examples", "models"))
    p.add_argument("--default-model", default="mlp")
    p.add_argument("--seconds", type=int, default=1800, help="load duration (Locust -t)")
    p.add_argument("--warmup", type=int, default=None,
                   help="seconds after all users are connected before samples count (default: a "
                        "sixth of --seconds, at least 20, at most 300)")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--spawn-rate", type=float, default=100.0)
    p.add_argument("--tolerance", type=float, default=0.05)
    p.add_argument("--locust-workers", type=int, default=0,
                   help="0: one Locust process; N: a master and N worker processes")
    p.add_argument("--out", default=os.path.join(ROOT, "out", "soak"))
    p.add_argument("--server-arg", action="append", default=[], help="extra ptserve flag (repeatable)")
    args = p.parse_args()
    warmup = args.warmup if args.warmup is not None else min(300, max(20, args.seconds // 6))
    if warmup >= args.seconds:
        print(f"soak: --warmup {warmup} must be shorter than --seconds {args.seconds}", file=sys.stderr)
        return 2
    binary = os.path.join(args.build, "src", "server", "ptserve")
    if not os.access(binary, os.X_OK):
        print(f"soak: {binary} not built (scripts/build.sh)", file=sys.stderr)
        return 2
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    # 1000 keep-alive connections on each side: make sure the descriptors are there.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * args.users + 1024)) if hard != resource.RLIM_INFINITY else max(soft, 4 * args.users + 1024)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    log_path = os.path.join(args.out, "ptserve.log")
    log = open(log_path, "w")
    cmd = [binary, "--model-repository", args.repository, "--http-port", "0", "--grpc-port", "-1", "--management-port", "-1",
           "--default-model", args.default_model] + args.server_arg
    print("soak: starting", " ".join(cmd), flush=True)
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    locusts = []

    def server_log():
        with open(log_path) as f:
            return f.read()

    try:
        port = None
        deadline = time.time() + 300
        while time.time() < deadline:
            text = server_log()
            if server.poll() is not None:
                print("soak: ptserve exited early:\n" + text[-3000:], file=sys.stderr)
                return 2
            m = re.search(r"HTTP server listening on [^\s]+:(\d+)", text)
            if m:
                port = int(m.group(1))
            if port and ("all models ready" in text or "some models failed" in text):
                break
            time.sleep(0.2)
        else:
            print("soak: models did not load in time:\n" + server_log()[-3000:], file=sys.stderr)
            return 2
        if "some models failed" in server_log():
            print("soak: some models failed to load:\n" + server_log()[-3000:], file=sys.stderr)
            return 2
        rss0, threads0, fds0 = read_proc(server.pid)
        print(f"soak: ptserve pid {server.pid} on port {port}, idle: RSS {rss0:.1f} MB, "
              f"{threads0} threads, {fds0} fds", flush=True)

        prefix = os.path.join(args.out, "locust")
        common = ["/usr/bin/python3", "-m", "locust", "-f", os.path.join(ROOT, "bench", "locust", "locustfile.py"),
                  "--host", f"http://127.0.0.1:{port}"]
        locust_log_path = os.path.join(args.out, "locust.log")
        locust_log = open(locust_log_path, "w")
        head = common + ["--headless", "-u", str(args.users), "-r", str(args.spawn_rate),
                         "-t", f"{args.seconds}s", "--stop-timeout", "5", "--only-summary", "--csv", prefix]
        if args.locust_workers > 0:
            head += ["--master", "--expect-workers", str(args.locust_workers), "--master-bind-port", "0"]
            # Locust 2.12 cannot bind port 0 for the master: pick a free one.
            import socket
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                mport = s.getsockname()[1]
            head[-1] = str(mport)
            locusts.append(subprocess.Popen(head, stdout=locust_log, stderr=subprocess.STDOUT, cwd=args.out))
            for _ in range(args.locust_workers):
                locusts.append(subprocess.Popen(common + ["--worker", "--master-port", str(mport)],
                                                stdout=locust_log, stderr=subprocess.STDOUT, cwd=args.out))
        else:
            locusts.append(subprocess.Popen(head, stdout=locust_log, stderr=subprocess.STDOUT, cwd=args.out))
        start = time.time()
        samples = []  # (t, rss_mb, threads, fds)
        print(f"soak: {args.users} users (spawn rate {args.spawn_rate}/s) for {args.seconds} s, "
              f"sampling every {args.interval} s, warm-up until {warmup} s after all users are connected",
              flush=True)
        spawned_at = None
        connected_at = None
        print(f"{'t_s':>6} {'rss_mb':>8} {'threads':>7} {'fds':>5}", flush=True)
        next_sample = start
        while locusts[0].poll() is None:
            if server.poll() is not None:
                print("soak: ptserve died under load:\n" + server_log()[-3000:], file=sys.stderr)
                return 1
            now = time.time()
            if spawned_at is None:
                with open(locust_log_path) as f:
                    if "All users spawned" in f.read():
                        spawned_at = now - start
                        print(f"soak: all {args.users} users spawned after {spawned_at:.0f} s", flush=True)
            if now >= next_sample:
                rss, threads, fds = read_proc(server.pid)
                samples.append((now - start, rss, threads, fds))
                print(f"{now - start:6.0f} {rss:8.1f} {threads:7d} {fds:5d}", flush=True)
                if spawned_at is not None and connected_at is None and fds >= args.users:
                    connected_at = now - start
                    print(f"soak: all {args.users} users connected after {connected_at:.0f} s", flush=True)
                next_sample += args.interval
            if now - start > args.seconds + 120:
                print("soak: Locust did not stop in time", file=sys.stderr)
                return 2
            time.sleep(min(0.2, max(0.0, next_sample - time.time())))
        for w in locusts[1:]:
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                w.kill()
        with open(os.path.join(args.out, "soak_samples.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["t_s", "rss_mb", "threads", "fds"])
            for s in samples:
                w.writerow([f"{s[0]:.1f}", f"{s[1]:.1f}", s[2], s[3]])

        ok = True
        if not os.path.exists(prefix + "_stats.csv"):
            with open(os.path.join(args.out, "locust.log")) as f:
                print("soak: Locust failed (exit %s):\n%s" % (locusts[0].returncode, f.read()[-3000:]),
                      file=sys.stderr)
            return 2
        with open(prefix + "_stats.csv", newline="") as f:
            rows = {r["Name"]: r for r in csv.DictReader(f)}
        agg = rows.get("Aggregated")
        if agg is None:
            print("soak: FAIL: Locust wrote no Aggregated row", file=sys.stderr)
            return 1
        requests, failures = int(agg["Request Count"]), int(agg["Failure Count"])
        print(f"soak: {requests} requests ({float(agg['Requests/s']):.1f}/s), {failures} failed, "
              f"latency p50 {agg['50%']} ms, p99 {agg['99%']} ms, max {float(agg['Max Response Time']):.0f} ms")
        if requests == 0 or failures != 0:
            ok = False
            print(f"soak: FAIL: {failures} failed requests of {requests}")
            fail_csv = prefix + "_failures.csv"
            if os.path.exists(fail_csv):
                print(open(fail_csv).read()[:3000])

        if spawned_at is None or connected_at is None:
            print(f"soak: FAIL: never all {args.users} users spawned and connected")
            return 1
        # Up to --seconds: Locust then stops its users and their connections close.
        after = [s for s in samples if connected_at + warmup <= s[0] <= args.seconds]
        if len(after) < 3:
            print(f"soak: FAIL: only {len(after)} samples after the warm-up")
            return 1
        print(f"soak: {len(after)} samples from t={connected_at + warmup:.0f} s (all users connected at "
              f"{connected_at:.0f} s + {warmup} s warm-up) to t={args.seconds} s "
              f"(criterion: min >= {1 - args.tolerance:.2f} x median, max <= {1 + args.tolerance:.2f} x median)")
        for index, name in ((1, "rss_mb"), (2, "threads"), (3, "fds")):
            values = [s[index] for s in after]
            med = statistics.median(values)
            lo, hi = min(values), max(values)
            good = lo >= (1 - args.tolerance) * med and hi <= (1 + args.tolerance) * med
            print(f"  {name:8} median {med:9.1f}  min {lo:9.1f} ({lo / med - 1:+.1%})  max {hi:9.1f} "
                  f"({hi / med - 1:+.1%})  drift last/first quarter {quarter_drift(values) - 1:+.1%}  "
                  f"{'ok' if good else 'FAIL'}")
            ok = ok and good
        rc = server.poll()
        if rc is not None:
            print(f"soak: FAIL: ptserve exited ({rc}) before the end")
            return 1
        server.send_signal(signal.SIGTERM)
        try:
            rc = server.wait(90)
        except subprocess.TimeoutExpired:
            server.kill()
            rc = "killed after 90 s"
        if rc != 0:
            ok = False
            print(f"soak: FAIL: ptserve's exit on SIGTERM: {rc}")
        print("soak: PASS" if ok else "soak: FAIL")
        return 0 if ok else 1
    finally:
        for l in locusts:
            if l.poll() is None:
                l.kill()
        if server.poll() is None:
            server.kill()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
