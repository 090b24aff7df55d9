#!/usr/bin/env python3
"""Reads bench/run.sh's results directory.

  report.py check DIR                 exits 1 when a scenario had errors or no throughput (--smoke)
  report.py render DIR MD PNG         writes docs/performance.md and its plot (gnuplot)
"""
import glob
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile

TARGETS = ["easgate", "nginx", "direct"]


def load(results):
    runs = {}
    for path in sorted(glob.glob(os.path.join(results, "*.json"))):
        name = os.path.basename(path)[:-5]
        with open(path) as f:
            runs[name] = json.load(f)
    return runs


def check(results):
    problems = []
    runs = load(results)
    for name, run in runs.items():
        if name.startswith("memory-"):
            if not run["held"]:
                problems.append(f"{name}: no Ping held")
            continue
        if name.startswith("peak-"):
            if not (run["easgate_peak_kib"] and run["nginx_peak_kib"]):
                problems.append(f"{name}: no peak memory read")
            continue
        if run.get("error_total", 0) or not run.get("requests"):
            problems.append(f"{name}: {run.get('requests', 0)} requests, errors {run.get('errors')}")
        if run.get("sync", {}).get("error_total"):
            problems.append(f"{name}: sync while held had errors {run['sync']['errors']}")
    # A request-path frame over what Asio recycles costs a malloc and a free per request, and grows
    # unseen from a local added to a coroutine: the smoke fails on it.
    measured = request_path_frames(results)
    if measured and measured[1]:
        problems.append("coroutine frames above the 1,020 bytes Asio recycles (bench/frames.sh): " +
                        ", ".join(measured[1]))
    for line in problems:
        print("bench smoke:", line, file=sys.stderr)
    print(f"bench smoke: {len(runs)} result files, {len(problems)} problems", file=sys.stderr)
    return 1 if problems or not runs else 0


def rounds(runs, scenario, target):
    return [run for name, run in runs.items() if re.fullmatch(f"{scenario}-{target}-r\\d+", name)]


def mean(runs, scenario, target, pick):
    values = [v for v in (pick(run) for run in rounds(runs, scenario, target)) if v is not None]
    return statistics.mean(values) if values else None


def fmt(value, digits=0):
    return "–" if value is None else f"{value:,.{digits}f}"


def ratio(a, b):
    return "–" if not a or not b else f"{a / b:.2f}×"


def throughput_table(runs, scenarios):
    lines = ["| scenario | easgate | nginx | direct | easgate / nginx | p99 ms easgate / nginx / direct "
             "| proxy CPU µs per request easgate / nginx | errors |",
             "|---|---|---|---|---|---|---|---|"]
    for scenario, what in scenarios:
        rate = {t: mean(runs, scenario, t, lambda r: r["req_per_s"]) for t in TARGETS}
        p99 = {t: mean(runs, scenario, t, lambda r: r["latency_ms"]["p99"]) for t in TARGETS}
        cpu = {t: mean(runs, scenario, t, lambda r: r.get("cpu_us_per_request")) for t in ("easgate", "nginx")}
        errors = sum(r["error_total"] for t in TARGETS for r in rounds(runs, scenario, t))
        if not any(rate.values()):
            continue
        lines.append(f"| {what} | {fmt(rate['easgate'])} | {fmt(rate['nginx'])} | {fmt(rate['direct'])} | "
                     f"{ratio(rate['easgate'], rate['nginx'])} | {fmt(p99['easgate'], 2)} / {fmt(p99['nginx'], 2)}"
                     f" / {fmt(p99['direct'], 2)} | {fmt(cpu['easgate'], 1)} / {fmt(cpu['nginx'], 1)} | {errors} |")
    return lines


def sendmail_table(runs):
    mb = {t: mean(runs, "sendmail", t, lambda r: r["upload_mb_per_s"]) for t in TARGETS}
    if not any(mb.values()):
        return []
    return ["| upload | easgate MB/s | nginx MB/s | direct MB/s | easgate / nginx |", "|---|---|---|---|---|",
            f"| SendMail, {runs_option(runs, 'sendmail', 'body_size') // 1048576} MiB bodies | {fmt(mb['easgate'], 1)} | "
            f"{fmt(mb['nginx'], 1)} | {fmt(mb['direct'], 1)} | {ratio(mb['easgate'], mb['nginx'])} |"]


def runs_option(runs, scenario, option):
    for run in rounds(runs, scenario, "easgate"):
        return run["options"][option]
    return 0


def cold_table(runs):
    lines = ["| target | users | first requests p50 / p99 ms | storm s | warm users p99 ms | errors |",
             "|---|---|---|---|---|---|"]
    for t in TARGETS:
        for run in rounds(runs, "cold-start", t)[:1]:
            lines.append(f"| {t} | {run['options']['devices'] - run['options']['concurrency']} | "
                         f"{fmt(run['latency_ms']['p50'], 1)} / {fmt(run['latency_ms']['p99'], 1)} | "
                         f"{fmt(run['seconds'], 2)} | {fmt(run['warm']['latency_ms']['p99'], 2)} | {run['error_total']} |")
    return lines if len(lines) > 2 else []


def memory_table(runs):
    lines = ["| upstream | easgate fresh | easgate after churn | nginx fresh | nginx after churn | Pings held |",
             "|---|---|---|---|---|---|"]
    labels = {"plain": "plain http", "tls13": "https, TLS 1.3", "tls12": "https, TLS 1.2"}
    for kind, label in labels.items():
        cells, held = [], set()
        for target in ("easgate", "nginx"):
            for state in ("fresh", "churn"):
                run = runs.get(f"memory-{target}-{kind}-{state}")
                cells.append("–" if not run or run["kib_per_ping"] is None else f"{run['kib_per_ping']:.1f} KiB")
                if run:
                    held.add(run["held"])
        if any(c != "–" for c in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {', '.join(map(str, sorted(held)))} |")
    return lines if len(lines) > 2 else []


def ping_devices(runs):
    return max([r["held"] for n, r in runs.items() if n.startswith("memory-")] or [0])


def held_sync(runs, target):
    """sync p99 idle and with the Pings held (TLS 1.3 upstream, after churn), and inside easgate."""
    idle = runs.get(f"idle-sync-{target}-tls13-churn")
    held = runs.get(f"ping-hold-{target}-tls13-churn", {}).get("sync")
    if not (idle and held):
        return None
    return {"idle": idle["latency_ms"]["p99"], "held": held["latency_ms"]["p99"],
            "idle_inside": idle.get("inside_ms"), "held_inside": held.get("inside_ms")}


def hold_sync_table(runs):
    lines = ["| target | sync p99 idle | sync p99 with the Pings held | ratio | inside easgate, by its access log: p99 idle / held (of which upstream) |",
             "|---|---|---|---|---|"]
    for target in ("easgate", "nginx", "direct"):
        figures = held_sync(runs, target)
        if figures:
            a, b = figures["idle"], figures["held"]
            inside = "–"
            if figures["idle_inside"] and figures["held_inside"]:
                whole_ms = lambda ms: f"{ms} ms" if ms else "< 1 ms"  # the log counts whole milliseconds
                inside = (f"{whole_ms(figures['idle_inside']['p99'])} / {whole_ms(figures['held_inside']['p99'])} "
                          f"({whole_ms(figures['held_inside']['upstream_p99'])})")
            lines.append(f"| {target} | {a:.2f} ms | {b:.2f} ms | {ratio(b, a)} | {inside} |")
    return lines if len(lines) > 2 else []


def verdict(value, target, higher_is_better=True):
    if value is None:
        return "not measured"
    return "met" if (value >= target if higher_is_better else value <= target) else "not met"


def layout(results):
    """Where run.sh put the proxy and the load (layout.txt); runs before s33 had the two-core layout."""
    found = {"proxy": "0", "proxy_two": "0,1", "load": "1", "load_threads": "1"}
    path = os.path.join(results, "layout.txt")
    if os.path.exists(path):
        found.update(item.split("=", 1) for item in open(path).read().split())
    # The load has cores of its own when none of them is one of the proxy's two.
    found["apart"] = found["load"] != "" and found["load"] not in found["proxy_two"].split(",")
    return found


def pinning(where):
    if not where["load"]:
        return "none (one CPU)."
    if not where["apart"]:
        return (f"the proxy on CPU {where['proxy']}; easgate-loadgen and the upstream on CPU {where['load']} "
                "(`taskset`), one thread each.")
    return (f"the proxy on CPU {where['proxy']} (with two threads: CPUs {where['proxy_two']}); easgate-loadgen "
            f"and each upstream on CPUs {where['load']} with {where['load_threads']} threads (`taskset`).")


def scaling_method(where):
    what = (f"`sync` against easgate with `workers: 1` on CPU {where['proxy']}, then `workers: 2` on CPUs "
            f"{where['proxy_two']} (nginx: `worker_processes` 1, then 2).")
    if where["apart"]:
        return (f"{what} The load generator and the upstreams run on CPUs {where['load']}, apart from the "
                "proxy's (the target is 1.8×).")
    return (f"{what} The load generator and the upstream stay on CPU {where['load']}, so with two threads the "
            "proxy competes with them for that core: on this machine the figure shows the direction only, not "
            "what two cores of its own would give (the target is 1.8×). `bench/run.sh` gives the load cores of "
            "its own from four CPUs on.")


def targets_table(runs, where):
    """Issue 13's targets against this run's figures."""
    def rate(scenario, target):
        return mean(runs, scenario, target, lambda r: r["req_per_s"])

    def cpu(scenario, target):
        return mean(runs, scenario, target, lambda r: r.get("cpu_us_per_request"))

    def over(a, b):
        return a / b if a and b else None

    def kib(target):
        run = runs.get(f"memory-{target}-tls13-churn")
        return run["kib_per_ping"] if run else None

    rows = [
        ("sync, plain forward: req/s", over(rate("sync", "easgate"), rate("sync", "nginx")), 1.2, "×"),
        ("sync, plain forward: requests per CPU second", over(cpu("sync", "nginx"), cpu("sync", "easgate")), 1.2, "×"),
        ("sync, full delegation (lab, fast upstream): req/s",
         over(rate("lab-fast", "easgate"), rate("lab-fast", "nginx")), 1.0, "×"),
        ("handshake: new connections/s", over(rate("handshake", "easgate"), rate("handshake", "nginx")), 1.0, "×"),
        ("SendMail 10 MiB: MB/s", over(mean(runs, "sendmail", "easgate", lambda r: r["upload_mb_per_s"]),
                                       mean(runs, "sendmail", "nginx", lambda r: r["upload_mb_per_s"])), 0.9, "×"),
        ("scaling: 2 threads / 1 " + ("(the load on cores of its own)" if where["apart"] else
                                       "(the load generator shares both cores: direction only)"), over(runs.get("scaling-w2-easgate-r1", {}).get("req_per_s"),
                                        runs.get("scaling-w1-easgate-r1", {}).get("req_per_s")), 1.8, "×"),
    ]
    lines = ["| target | this run | goal | |", "|---|---|---|---|"]
    for what, value, goal, unit in rows:
        lines.append(f"| {what} | {fmt(value, 2)}{unit if value else ''} | ≥ {goal}{unit} | {verdict(value, goal)} |")
    easgate, nginx = kib("easgate"), kib("nginx")
    memory = verdict(easgate, nginx or 0, False) if nginx else "not measured"
    if memory == "met":
        memory += f"; stretch {verdict(easgate, 48, False)}"
    lines.append(f"| memory per held Ping, TLS 1.3 upstream, after churn | {fmt(easgate, 1)} KiB | "
                 f"≤ nginx ({fmt(nginx, 1)} KiB), stretch 48 | {memory} |")
    held = held_sync(runs, "easgate")
    if held:
        direct = held_sync(runs, "direct")
        rig = f" (direct, no proxy: {fmt(direct['held'] / direct['idle'], 2)}×)" if direct else ""
        lines.append(f"| sync p99 while {ping_devices(runs)} Pings are held / idle | {fmt(held['held'] / held['idle'], 2)}×{rig} | "
                     f"≤ 2× | {verdict(held['held'] / held['idle'], 2, False)} |")
    peak = runs.get("peak-sendmail")
    uploads = runs_option(runs, "sendmail", "concurrency")
    if peak and uploads:
        bound = (uploads * runs_option(runs, "sendmail", "body_size") >> 10) + 64 * 1024
        lines.append(f"| SendMail: peak RSS over {uploads} concurrent uploads | {peak['easgate_peak_kib'] / 1024:.0f} MiB "
                     f"(nginx {peak['nginx_peak_kib'] / 1024:.0f} MiB) | ≤ read-ahead × uploads + 64 MiB "
                     f"({bound / 1024:.0f} MiB) | {verdict(peak['easgate_peak_kib'], bound, False)} |")
    half = half_load(runs)
    if half:
        added = half["easgate"] - half["direct"]
        lines.append(f"| sync, full delegation: p99 added over direct at half load | {fmt(added, 2)} ms "
                     f"(nginx adds {fmt(half['nginx'] - half['direct'], 2)}) | ≤ 1 ms | {verdict(added, 1, False)} |")
    cold = runs.get("lab-cold-start")
    if cold and "kdc" in cold:
        users = cold["options"]["devices"]
        exact = cold["kdc"]["s4u2self"] == users and cold["kdc"]["s4u2proxy"] == users
        lines.append(f"| cold start: one S4U2Self + one S4U2Proxy per user | {cold['kdc']['s4u2self']} + "
                     f"{cold['kdc']['s4u2proxy']} for {users} users | exactly one each | {'met' if exact else 'not met'} |")
        if "warm" in cold:
            p99 = cold["warm"]["latency_ms"]["p99"]
            inside = cold["warm"].get("inside_ms")
            own = f" (inside easgate, by its access log: p99 {inside['p99']} ms)" if inside else ""
            lines.append(f"| cold start: cached users' p99 during the storm | {fmt(p99, 1)} ms{own} | ≤ 10 ms | "
                         f"{verdict(p99, 10, False)} |")
    return lines


def sizing(runs):
    """One node's figures from this run, and what they mean for N nodes."""
    kib = runs.get("memory-easgate-tls13-churn", {}).get("kib_per_ping")
    sync = mean(runs, "sync", "easgate", lambda r: r["req_per_s"])
    handshakes = mean(runs, "handshake", "easgate", lambda r: r["req_per_s"])
    if not (kib and sync and handshakes):
        return ["(needs the sync, handshake and ping-hold scenarios)"]
    phones = 100_000
    return [f"Per node in this run (one I/O thread, one core): about {fmt(sync)} sync requests/s, "
            f"{fmt(handshakes)} new device connections/s, {kib:.0f} KiB per held Ping with a TLS 1.3 Exchange.",
            "",
            f"For example, {phones:,} phones each holding a Ping need about {phones * kib / 1048576:.1f} GiB "
            f"for the held Pings and {2 * phones:,} file descriptors in all (two per Ping), spread over the nodes; "
            "a phone that syncs every few minutes adds well under one request/s. Memory and descriptors "
            "usually decide N; then add one node (N + 1) so that the others absorb a stopped node's "
            "reconnecting phones (docs/scale-out.md)."] + storm_sizing(runs)


def storm_sizing(runs):
    """How fast a node takes on users new to it (a restart, or a stopped node's phones)."""
    cold = runs.get("lab-cold-start")
    if not cold:
        return []
    rate = cold["req_per_s"]
    users = 10_000
    return ["",
            f"Users new to a node (after it starts, or when another node stops) cost it a TLS handshake "
            f"and, once, a directory search, an S4U2Self and an S4U2Proxy each: in the lab that went at "
            f"{fmt(rate)} users/s, the pace of one Samba DC sharing this machine's two cores, so "
            f"{users:,} such users would take about {users / rate:.0f} s at that pace. The phones already "
            "connected keep being served meanwhile: new connections' handshakes take turns with open ones. "
            "The DC's capacity sets that pace; easgate asks it at most directory.max_concurrent searches "
            "and kerberos.max_concurrent_kdc KDC exchanges at once per node."]


def machine():
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s*(.+)", lscpu)
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    return (f"{model.group(1) if model else 'unknown CPU'}, {os.cpu_count()} CPUs; Linux "
            f"{platform.release()}; {nginx.replace('nginx version: ', '')}; OpenSSL "
            f"{subprocess.run(['openssl', 'version'], capture_output=True, text=True).stdout.split()[1]}")


def scaling_table(runs):
    lines = ["| proxy | 1 thread / worker | 2 | ratio |", "|---|---|---|---|"]
    for target in ("easgate", "nginx"):
        one, two = (runs.get(f"scaling-w{n}-{target}-r1", {}).get("req_per_s") for n in (1, 2))
        if one and two:
            lines.append(f"| {target} sync req/s | {fmt(one)} | {fmt(two)} | {ratio(two, one)} |")
    return lines if len(lines) > 2 else ["(not run: `bash bench/run.sh --scenarios scaling`)"]


def half_load(runs):
    """p99 of the delegation path at half load, beside nginx and the upstream alone at the same rate."""
    p99 = {target: mean(runs, "lab-fast-half", target, lambda r: r["latency_ms"]["p99"])
           for target in ("easgate", "nginx", "direct")}
    if None in p99.values():
        return None
    return dict(p99, rate=runs_option(runs, "lab-fast-half", "rate"))


def lab_table(runs):
    lines = ["| scenario | users new to easgate | easgate req/s | p50 / p99 ms | S4U2Self | S4U2Proxy | errors |",
             "|---|---|---|---|---|---|---|"]
    for name, what in (("lab-sync", "sync, full delegation, cached"), ("lab-cold-start", "cold-start, first requests")):
        run = runs.get(name)
        if run:
            kdc = run.get("kdc", {})
            users = run["options"]["devices"] if name == "lab-cold-start" else 0
            lines.append(f"| {what} | {users} | {fmt(run['req_per_s'])} | {fmt(run['latency_ms']['p50'], 2)} / "
                         f"{fmt(run['latency_ms']['p99'], 2)} | {kdc.get('s4u2self', '–')} | {kdc.get('s4u2proxy', '–')} | "
                         f"{run['error_total']} |")
            if "warm" in run:
                lines.append(f"| cold-start, warm users meanwhile | | {fmt(run['warm']['req_per_s'])} | "
                             f"{fmt(run['warm']['latency_ms']['p50'], 2)} / {fmt(run['warm']['latency_ms']['p99'], 2)} "
                             f"| | | {run['warm']['error_total']} |")
    nginx = mean(runs, "lab-fast", "nginx", lambda r: r["req_per_s"])
    nginx_p99 = mean(runs, "lab-fast", "nginx", lambda r: r["latency_ms"]["p99"])
    rows = []
    for scenario, what in (("lab-fast", "directory + delegation, a fresh token per request (`authenticate: per_request`)"),
                           ("lab-fast-conn", "directory + delegation, a token per Exchange connection (`authenticate: per_connection`)")):
        easgate = mean(runs, scenario, "easgate", lambda r: r["req_per_s"])
        if easgate and nginx:
            rows.append(f"| {what} | {fmt(easgate)} | {fmt(nginx)} | {ratio(easgate, nginx)} | "
                        f"{fmt(mean(runs, scenario, 'easgate', lambda r: r['latency_ms']['p99']), 2)} / {fmt(nginx_p99, 2)} |")
    if rows:
        lines += ["", "Full delegation path against the fast upstream (easgate-bench-upstream, https TLS 1.3, which",
                  "ignores the Authorization header) beside nginx's pass-through to it, same run, alternating. The",
                  "upstream is https, so each token is bound to its connection (Extended Protection). IIS keeps",
                  "Kerberos authentication per connection by default (`authPersistNonNTLM`), which",
                  "`authenticate: per_connection` relies on: a token only on each Exchange connection's first request.", "",
                  "| sync, 50 devices, cached | easgate req/s | nginx req/s | easgate / nginx | p99 ms easgate / nginx |",
                  "|---|---|---|---|---|"] + rows
    held = runs.get("memory-easgate-lab-cached")
    if held and held["kib_per_ping"] is not None:
        lines += ["", f"Held Pings on the whole path: the cold start's {held['held']} users (each in {held.get('groups', '?')} groups; their "
                  "directory answers and tickets cached) each hold a Ping through the fast listener: "
                  f"**{held['kib_per_ping']:.1f} KiB** per held Ping (easgate's RSS {held['rss_before_kib'] // 1024} → "
                  f"{held['rss_held_kib'] // 1024} MiB), fresh, not churned."]
    half = half_load(runs)
    if half:
        lines += ["", f"At half load: {fmt(half['rate'])} requests/s offered alike to easgate (a fresh token per request), "
                  "nginx and the fast upstream alone (*direct*).", "",
                  "| p99 ms at half load | easgate | nginx | direct | easgate adds | nginx adds |", "|---|---|---|---|---|---|",
                  f"| sync, 50 devices, cached | {fmt(half['easgate'], 2)} | {fmt(half['nginx'], 2)} | {fmt(half['direct'], 2)} | "
                  f"{fmt(half['easgate'] - half['direct'], 2)} | {fmt(half['nginx'] - half['direct'], 2)} |"]
    return lines if len(lines) > 2 else []


def plot(runs, png):
    scenarios = [("sync", "sync"), ("handshake", "handshake"), ("handshake-resume", "resumed"), ("cold-start", "cold start")]
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "rates.dat")
        with open(data, "w") as f:
            for scenario, label in scenarios:
                values = [mean(runs, scenario, t, lambda r: r["req_per_s"]) or 0 for t in TARGETS]
                f.write(f'"{label}" ' + " ".join(f"{v:.0f}" for v in values) + "\n")
        memory = os.path.join(tmp, "memory.dat")
        with open(memory, "w") as f:
            for kind, label in (("tls13", "TLS 1.3"), ("tls12", "TLS 1.2"), ("plain", "plain")):
                values = []
                for target in ("easgate", "nginx"):
                    for state in ("fresh", "churn"):
                        run = runs.get(f"memory-{target}-{kind}-{state}")
                        values.append(run["kib_per_ping"] if run and run["kib_per_ping"] else 0)
                f.write(f'"{label}" ' + " ".join(f"{v:.1f}" for v in values) + "\n")
        script = f"""
set terminal pngcairo size 1100,450 font ",10"
set output "{png}"
set multiplot layout 1,2
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set yrange [0:*]
set key top right
set title "requests (or new connections) per second"
plot "{data}" using 2:xtic(1) title "easgate", "" using 3 title "nginx", "" using 4 title "direct"
set title "KiB per held Ping (https upstream unless plain)"
plot "{memory}" using 2:xtic(1) title "easgate fresh", "" using 3 title "easgate after churn", \\
     "" using 4 title "nginx fresh", "" using 5 title "nginx after churn"
unset multiplot
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)


# The coroutines every forwarded request runs through once (bench/frames.sh names them by their
# signature's start).
REQUEST_COROUTINES = ["DownstreamSession::serve_request", "DownstreamSession::forward_request",
                      "DownstreamSession::read_request",
                      "DownstreamSession::read_raw_header", "DownstreamSession::read_ahead",
                      "UpstreamExchange::forward", "UpstreamExchange::send", "common::relay_body",
                      "UpstreamExchange::read_response_header", "UpstreamExchange::wait_for_answer",
                      "UpstreamExchange::read_header", "UpstreamExchange::relay_response",
                      "DelegatedTokens::token"]


def request_path_frames(results):
    """From bench/frames.sh's list: each request-path coroutine's largest frame, and those it marks as
    above what Asio recycles; None when the list was not made."""
    path = os.path.join(results, "frames.txt")
    if not os.path.exists(path):
        return None
    sizes, unrecycled = {}, set()
    for line in open(path):
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0].isdigit():
            name = parts[1].replace("not recycled", "", 1).strip()
            sizes[name] = int(parts[0])
            if "not recycled" in parts[1]:
                unrecycled.add(name)
    def named(coroutine):
        return [name for name in sizes if "::" + coroutine + "(" in name or "::" + coroutine + "<" in name]
    on_path = [(c.split("::")[-1], named(c)) for c in REQUEST_COROUTINES]
    largest = [(c, max(sizes[n] for n in names)) for c, names in on_path if names]
    over = [c for c, names in on_path if any(n in unrecycled for n in names)]
    return largest, over


def frames(results):
    """bench/frames.sh's list: the request path's frames, and any it marks as above what Asio recycles."""
    measured = request_path_frames(results)
    if measured is None:
        return "(not measured: `bash bench/frames.sh`)"
    largest, over = measured
    listed = ", ".join(f"`{c}` {fmt(size)}" for c, size in largest)
    over = [f"`{c}`" for c in over]
    verdict_text = ("all within the 1,020 bytes Asio recycles" if not over else
                    "above the 1,020 bytes Asio recycles (a malloc and a free per request each): " + ", ".join(over))
    return (f"Coroutine frames a forwarded request runs through, in bytes (`bench/frames.sh`; `token` with "
            f"delegation only): {listed}; {verdict_text}.")


def note(results):
    """BENCH_NOTE as run.sh kept it with the results (e.g. that the machine was busy)."""
    path = os.path.join(results, "note.md")
    return open(path).read().strip() if os.path.exists(path) else ""


def render(results, md, png):
    runs = load(results)
    where = layout(results)
    template = open(os.path.join(os.path.dirname(__file__), "performance.md.in")).read()
    sections = {
        "MACHINE": machine(),
        "NOTE": note(results),
        "RESULTS": os.path.relpath(results, os.path.dirname(os.path.abspath(md)) + "/.."),
        "THROUGHPUT": throughput_table(runs, [("sync", "sync, persistent connections, 50 devices"),
                                              ("sync-half", "sync at half of easgate's rate"),
                                              ("handshake", "handshake: new TLS connection per request"),
                                              ("handshake-resume", "handshake, session resumed")]),
        "SENDMAIL": sendmail_table(runs),
        "COLD": cold_table(runs),
        "MEMORY": memory_table(runs),
        "HOLD_SYNC": hold_sync_table(runs),
        "SCALING": scaling_table(runs),
        "TARGETS": targets_table(runs, where),
        "PINNING": pinning(where),
        "SCALING_METHOD": scaling_method(where),
        "SIZING": sizing(runs),
        "LAB": lab_table(runs) or ["(not run: `bash bench/run.sh --lab`)"],
        "PING_DEVICES": str(ping_devices(runs)),
        "FRAMES": frames(results),
    }
    for key, value in sections.items():
        template = template.replace("@" + key + "@", "\n".join(value) if isinstance(value, list) else value)
    with open(md, "w") as f:
        f.write(template)
    plot(runs, os.path.abspath(png))


if __name__ == "__main__":
    if sys.argv[1] == "check":
        sys.exit(check(sys.argv[2]))
    render(*sys.argv[2:5])
