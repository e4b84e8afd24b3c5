#!/usr/bin/env python3
"""rinit against tini-static, dumb-init, catatonit and tino, every figure measured in the same run.

Rounds are interleaved (the order of the inits rotates each round) so that noise from a shared
machine falls on all of them alike. Run through bench/run, which installs and builds first.
Options: --quick (fewer repetitions, for a smoke test). BENCH_OUT=DIR writes results.md,
chart.svg and sizes.md there instead of bench/ (scripts/test's smoke run does, to leave the
recorded results alone). BENCH_BEFORE=PATH adds another rinit binary (an earlier build) as a
sixth init, "rinit-before", measured in the same rounds: a change's cost, side by side.
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "target", "x86_64-unknown-linux-musl", "release")
KIT = os.path.join(BUILD, "rinit-testkit")
INITS = {
    "rinit": os.path.join(BUILD, "rinit"),
    "tini-static": "/usr/bin/tini-static",
    "dumb-init": "/usr/bin/dumb-init",
    "catatonit": "/usr/bin/catatonit",
    # The closest Rust peer, from crates.io (bench/run installs it under target/).
    "tino": os.path.join(ROOT, "target", "bench-tools", "bin", "tino"),
}
if os.environ.get("BENCH_BEFORE"):
    INITS = {"rinit": INITS["rinit"], "rinit-before": os.environ["BENCH_BEFORE"],
             **{name: path for name, path in INITS.items() if name != "rinit"}}
QUICK = "--quick" in sys.argv
OUT = os.environ.get("BENCH_OUT") or os.path.join(ROOT, "bench")
NS = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
DEVNULL = subprocess.DEVNULL


def rounds(count):
    """Yields (round, init names in this round's order), rotating the order each round."""
    names = list(INITS)
    for r in range(count):
        k = r % len(names)
        yield r, names[k:] + names[:k]


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def status_field(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class Namespace:
    """INIT -- CMD as PID 1 of a new PID namespace; killing unshare ends the namespace."""

    def __init__(self, name, command, stdout=DEVNULL):
        self.proc = subprocess.Popen(NS + [INITS[name], "--"] + command,
                                     stdin=DEVNULL, stdout=stdout, stderr=DEVNULL)
        self.pid1 = self._wait_for(lambda: children(self.proc.pid))
        self._wait_for(lambda: children(self.pid1))  # the command has started

    def _wait_for(self, probe):
        for _ in range(2000):
            found = probe()
            if found:
                return found[0]
            time.sleep(0.005)
        raise RuntimeError("namespace did not start")

    def close(self):
        self.proc.kill()
        self.proc.wait()


def binary_size():
    out = {}
    for name, path in INITS.items():
        with open(path, "rb") as f:
            dynamic = b"/lib64/ld-linux" in f.read(4096)
        out[name] = (os.path.getsize(path), dynamic)
    return out


def peak_rss(repeat):
    seen = {name: [] for name in INITS}
    for _, order in rounds(repeat):
        for name in order:
            ns = Namespace(name, ["sleep", "1000"])
            time.sleep(0.2)
            seen[name].append(status_field(ns.pid1, "VmHWM"))
            ns.close()
    return {name: statistics.median(v) for name, v in seen.items()}


def idle_wakeups(seconds):
    running = {name: Namespace(name, ["sleep", "1000"]) for name in INITS}
    time.sleep(0.5)
    before = {n: status_field(ns.pid1, "voluntary_ctxt_switches") for n, ns in running.items()}
    time.sleep(seconds)
    after = {n: status_field(ns.pid1, "voluntary_ctxt_switches") for n, ns in running.items()}
    for ns in running.values():
        ns.close()
    return {n: after[n] - before[n] for n in INITS}


def spawn_and_wait(argv):
    null = [(os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)]
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=null)
    os.waitpid(pid, 0)


def true_runs(rounds_count, per_round):
    total = {name: 0.0 for name in INITS}
    total["/bin/true alone"] = 0.0
    for _, order in rounds(rounds_count):
        for name in order + ["/bin/true alone"]:
            argv = ["/bin/true"] if name == "/bin/true alone" else [INITS[name], "--", "/bin/true"]
            start = time.perf_counter()
            for _ in range(per_round):
                spawn_and_wait(argv)
            total[name] += time.perf_counter() - start
    runs = rounds_count * per_round
    return {name: seconds / runs * 1e3 for name, seconds in total.items()}, runs


def reap_storm(repeat, orphans):
    """The init's own CPU time to reap the orphans, read from /proc/1/stat inside the namespace."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = {name: [] for name in INITS}
    zombies = {name: 0 for name in INITS}
    script = f"{KIT} orphans {orphans} && {KIT} zombies 60 && cat /proc/1/stat"
    for _, order in rounds(repeat):
        for name in order:
            out = subprocess.run(NS + [INITS[name], "--", "sh", "-c", script], stdin=DEVNULL,
                                 stdout=subprocess.PIPE, stderr=DEVNULL, text=True, timeout=600)
            lines = out.stdout.split("\n")
            zombies[name] = max(zombies[name], int(lines[0].split("=")[1]))
            fields = lines[1].rsplit(")", 1)[1].split()
            cpu[name].append((int(fields[11]) + int(fields[12])) * 1000 / ticks)
    return {name: statistics.median(v) for name, v in cpu.items()}, zombies


def signal_latency(count):
    running = {}
    for name in INITS:
        ns = Namespace(name, [KIT, "latency"], stdout=subprocess.PIPE)
        ns.reader = ns.proc.stdout
        assert ns.reader.readline().strip() == b"ready"
        running[name] = ns
    samples = {name: [] for name in INITS}
    for name, ns in running.items():  # warm-up, not counted: caches, first page faults
        for _ in range(50):
            os.kill(ns.pid1, signal.SIGUSR1)
            ns.reader.readline()
    for _, order in rounds(count):
        for name in order:
            ns = running[name]
            sent = time.monotonic_ns()
            os.kill(ns.pid1, signal.SIGUSR1)
            arrived = int(ns.reader.readline())
            samples[name].append((arrived - sent) / 1e3)
    for ns in running.values():
        ns.close()
    result = {}
    for name, values in samples.items():
        values.sort()
        result[name] = (statistics.median(values), values[int(len(values) * 0.99) - 1])
    return result


def runc_stop(repeat, script):
    """A shell-form CMD in a scratch container: time from `runc kill TERM` to the container's
    end, and how often the worker's `saved` line made it out."""
    took = {name: [] for name in INITS}
    saved = {name: 0 for name in INITS}
    base = tempfile.mkdtemp(prefix="rinit-bench-")
    try:
        for r, order in rounds(repeat):
            for name in order:
                bundle = os.path.join(base, f"{name}-{r}")
                root = os.path.join(bundle, "rootfs")
                for d in ["bin", "proc", "dev", "sys", "tmp"]:
                    os.makedirs(os.path.join(root, d))
                shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
                os.symlink("busybox", os.path.join(root, "bin", "sh"))
                shutil.copy(KIT, os.path.join(root, "rinit-testkit"))
                shutil.copy(INITS[name], os.path.join(root, "init"))
                # dumb-init and tino are dynamically linked: give them their libraries.
                for lib in shared_libraries(INITS[name]):
                    os.makedirs(os.path.dirname(root + lib), exist_ok=True)
                    shutil.copy(lib, root + lib)
                subprocess.run(["runc", "spec", "--bundle", bundle], check=True)
                config_path = os.path.join(bundle, "config.json")
                with open(config_path) as f:
                    config = json.load(f)
                config["process"]["terminal"] = False
                config["process"]["args"] = ["/init", "--", "/bin/sh", "-c", script]
                with open(config_path, "w") as f:
                    json.dump(config, f)
                cid = f"rinit-bench-{os.getpid()}-{name}-{r}"
                run = subprocess.Popen(["runc", "run", "--bundle", bundle, cid], stdin=DEVNULL,
                                       stdout=subprocess.PIPE, stderr=DEVNULL)
                assert run.stdout.readline().strip() == b"started"
                time.sleep(0.05)  # the shell has moved on to its next command
                start = time.monotonic()
                subprocess.run(["runc", "kill", cid, "TERM"], check=True)
                rest = run.stdout.read()
                run.wait()
                took[name].append((time.monotonic() - start) * 1e3)
                saved[name] += b"saved" in rest
                subprocess.run(["runc", "delete", "--force", cid], stderr=DEVNULL)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return {name: statistics.median(v) for name, v in took.items()}, saved


def shared_libraries(path):
    """The absolute paths of the libraries a dynamic executable loads (none for a static one)."""
    out = subprocess.run(["ldd", path], stdout=subprocess.PIPE, stderr=DEVNULL, text=True)
    return [word for line in out.stdout.splitlines() for word in line.split()
            if word.startswith("/")]


def engine_stop(need, grants):
    """A command that needs `need` seconds to save after SIGTERM, under each init as PID 1,
    stopped as an engine does: SIGTERM to PID 1, SIGKILL to everything `grants` seconds later.
    All inits at once (the figure is whether the data was saved, and when the stop ended)."""
    base = tempfile.mkdtemp(prefix="rinit-bench-")
    running = {}
    try:
        for name in INITS:
            log = os.path.join(base, name)
            running[name] = (Namespace(name, [KIT, "worker", log, str(need * 1000)]), log)
        while not all(os.path.exists(log) for _, log in running.values()):
            time.sleep(0.01)
        start = time.monotonic()
        for ns, _ in running.values():
            os.kill(ns.pid1, signal.SIGTERM)
        ended = {}
        while len(ended) < len(running) and time.monotonic() - start < grants:
            for name, (ns, _) in running.items():
                if name not in ended and ns.proc.poll() is not None:
                    ended[name] = time.monotonic() - start
            time.sleep(0.01)
        result = {}
        for name, (ns, log) in running.items():
            ns.close()  # the engine's SIGKILL for whatever is still there
            with open(log) as f:
                saved = "saved" in f.read()
            result[name] = (saved, ended.get(name, grants))
        return result
    finally:
        shutil.rmtree(base, ignore_errors=True)


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, Linux {os.uname().release}"


def ratio(value, reference):
    if reference == 0:
        return "—" if value == 0 else "∞"
    return f"{value / reference:.2f}×"


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root (PID namespaces and runc need it)")
    repeat = 3 if QUICK else 7
    print(f"benchmarking on {machine()}", file=sys.stderr)
    sizes = binary_size()
    print("- peak RSS", file=sys.stderr)
    rss = peak_rss(repeat)
    idle_seconds = 3 if QUICK else 10
    print(f"- idle wake-ups over {idle_seconds} s", file=sys.stderr)
    idle = idle_wakeups(idle_seconds)
    print("- INIT -- /bin/true", file=sys.stderr)
    startup, runs = true_runs(5 if QUICK else 20, 20 if QUICK else 50)
    orphans = 2000 if QUICK else 20000
    print(f"- reaping {orphans} orphans as PID 1", file=sys.stderr)
    reap, zombies = reap_storm(1 if QUICK else 3, orphans)
    signals_sent = 200 if QUICK else 1000
    print(f"- signal latency over {signals_sent} signals", file=sys.stderr)
    latency = signal_latency(signals_sent)
    print("- runc stop of shell-form containers", file=sys.stderr)
    stops = 1 if QUICK else 3
    plain, _ = runc_stop(stops, "echo started; sleep 1000; echo done")
    stop, saved = runc_stop(stops, "/rinit-testkit worker /dev/stdout 200; echo done")
    print("- a 7 s save under a 15 s stop window", file=sys.stderr)
    slow = engine_stop(7, 15)

    names = list(INITS)
    rows = [
        ("static binary size (KB)", {n: f"{sizes[n][0] / 1000:.0f}" + (" + libc" if sizes[n][1] else "")
                                     for n in names}, {n: sizes[n][0] for n in names}),
        ("peak RSS supervising `sleep` (KB)", {n: f"{rss[n]:.0f}" for n in names}, rss),
        (f"voluntary wake-ups, idle (per {idle_seconds} s)", {n: f"{idle[n]}" for n in names}, idle),
        (f"`INIT -- /bin/true` (ms per run; /bin/true alone {startup['/bin/true alone']:.2f})",
         {n: f"{startup[n]:.2f}" for n in names}, {n: startup[n] for n in names}),
        (f"CPU to reap {orphans} orphans as PID 1 (ms)", {n: f"{reap[n]:.0f}" for n in names}, reap),
        ("zombies left after the storm", {n: f"{zombies[n]}" for n in names}, zombies),
        (f"signal latency, median (µs, {signals_sent} signals)",
         {n: f"{latency[n][0]:.0f}" for n in names}, {n: latency[n][0] for n in names}),
        ("signal latency, p99 (µs)", {n: f"{latency[n][1]:.0f}" for n in names},
         {n: latency[n][1] for n in names}),
        ("runc stop of `sh -c \"sleep 1000; echo done\"` (ms)",
         {n: f"{plain[n]:.0f}" for n in names}, plain),
        ("runc stop while a worker saves for 200 ms (ms): rinit waits, the others kill it",
         {n: f"{stop[n]:.0f}" for n in names}, stop),
        (f"worker's line saved at stop (of {stops})", {n: f"{saved[n]}" for n in names}, saved),
        ("the command needs 7 s to stop, the engine grants 15 s: data saved?",
         {n: ("saved" if slow[n][0] else "lost") + f" ({slow[n][1]:.1f} s)" for n in names},
         {n: int(slow[n][0]) for n in names}),
    ]
    header = "| figure | " + " | ".join(names) + " | rinit vs tini-static |"
    lines = [header, "|" + "---|" * (len(names) + 2)]
    for title, shown, raw in rows:
        compare = ratio(raw["rinit"], raw["tini-static"])
        lines.append(f"| {title} | " + " | ".join(shown[n] for n in names) + f" | {compare} |")
    table = "\n".join(lines)
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    note = (f"Measured {stamp} on {machine()}, every init in the same run, rounds interleaved. "
            f"`INIT -- /bin/true` is {runs} runs each. Lower is better, except in the last "
            f"three rows. In the two runc rows the container's shell-form CMD has a worker that "
            f"needs 200 ms to save its work after SIGTERM; rinit waits for it, the peers end at "
            f"once and the kernel kills the worker mid-write. In the last row the command "
            f"itself needs 7 s after SIGTERM and an engine's SIGKILL follows 15 s after it "
            f"(`docker stop -t 15`); the time is when the stop ended.")
    print(table)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(f"{note}\n\n{table}\n")
    with open(os.path.join(OUT, "chart.svg"), "w") as f:
        f.write(chart(rows[:-2], names))


def chart(rows, names):
    """One panel per figure: a bar per init, scaled to the largest in that figure."""
    colors = {"rinit": "#2b8a3e", "rinit-before": "#8ce99a", "tini-static": "#1c7ed6",
              "dumb-init": "#e67700", "catatonit": "#862e9c", "tino": "#c92a2a"}
    panel_h, bar_h, left, width = 22 + 16 * len(names), 13, 250, 330
    height = 40 + panel_h * len(rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 90}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="22" font-size="15" font-weight="bold">'
           'rinit, tini-static, dumb-init, catatonit, tino (lower is better)</text>']
    for i, (title, shown, raw) in enumerate(rows):
        top = 40 + i * panel_h
        out.append(f'<text x="10" y="{top + 12}" font-weight="bold">{escape(title)}</text>')
        largest = max(float(raw[n]) for n in names) or 1.0
        for j, n in enumerate(names):
            y = top + 18 + j * 16
            w = max(1.0, width * float(raw[n]) / largest)
            out.append(f'<text x="{left - 8}" y="{y + 10}" text-anchor="end">{n}</text>')
            out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                       f'fill="{colors[n]}"/>')
            out.append(f'<text x="{left + w + 5:.1f}" y="{y + 10}">{escape(shown[n])}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "")


SIZES_START = "<!-- the table below is written by bench/run (bench.py --sizes) -->"
SIZES_END = "<!-- end of the written table -->"


def architecture_sizes():
    """The static rinit of every architecture in scripts/targets that bench/run built: its size,
    written into bench/sizes.md between its two markers (the rest of the file, the budget and
    its reasons, is written by hand and kept)."""
    rows = ["| architecture | Rust target | OCI platform | static binary (bytes) |",
            "|---|---|---|---|"]
    with open(os.path.join(ROOT, "scripts", "targets")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            target, arch, _, _, platform, _ = line.split()
            path = os.path.join(ROOT, "target", target, "release", "rinit")
            size = f"{os.path.getsize(path):,}" if os.path.exists(path) else "not built"
            rows.append(f"| {arch} | `{target}` | {platform} | {size} |")
    table = "\n".join(rows)
    plain = os.path.join(ROOT, "target", "x86_64-unknown-linux-musl", "release", "rinit")
    audited = os.path.join(ROOT, "target", "auditable", "x86_64-unknown-linux-musl", "release", "rinit")
    cost = ""
    if os.path.exists(plain) and os.path.exists(audited):
        extra = os.path.getsize(audited) - os.path.getsize(plain)
        cost = (f"\n\nBuilt with cargo-auditable, as the release builds it, the x86_64 binary is "
                f"{os.path.getsize(audited):,} bytes: the embedded crate list (.dep-v0) costs "
                f"{extra} bytes.")
    print(table + cost)
    with open(os.path.join(ROOT, "bench", "sizes.md")) as f:
        text = f.read()
    start, end = text.index(SIZES_START) + len(SIZES_START), text.index(SIZES_END)
    with open(os.path.join(OUT, "sizes.md"), "w") as f:
        f.write(text[:start] + "\n" + table + cost + "\n" + text[end:])


if __name__ == "__main__":
    if "--sizes" in sys.argv:
        architecture_sizes()
    else:
        main()
