#!/usr/bin/env python3
"""Soak: a long 2-D distillation with frequent checkpoints; resident memory and open file
descriptors sampled from /proc every half second, written to a CSV and drawn as a PNG.

Usage: scripts/reliability/soak.py [--steps 20000] [--ckpt-every 100] [--out docs/soak.png]
Prints the first/last RSS and FD counts after warm-up and whether temporary files were left.
"""
import argparse, os, shutil, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--work", default="/tmp/di-soak")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs/soak.png"))
    ap.add_argument("--java-opts", default="", help="JVM options, e.g. -Xmx128m (a fixed heap: what remains is native memory)")
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    run = os.path.join(a.work, "run")
    p = subprocess.Popen([os.path.join(ROOT, "diffinstruct"), "distill", "--out", run, "--steps", str(a.steps),
                          "--ckpt-every", str(a.ckpt_every), "--log-every", "100", "-q"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=dict(os.environ, DIFFINSTRUCT_JAVA_OPTS=a.java_opts))
    rows, t0 = [], time.time()
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
            fds = len(os.listdir(f"/proc/{p.pid}/fd"))
            step = 0
            m = os.path.join(run, "metrics.jsonl")
            if os.path.exists(m):
                with open(m, "rb") as f:
                    f.seek(max(0, os.path.getsize(m) - 400))
                    tail = f.read().decode(errors="replace").rsplit('"step":', 1)
                    if len(tail) == 2:
                        step = int(tail[1].split(",")[0])
            rows.append((time.time() - t0, step, rss, fds))
        except (FileNotFoundError, ProcessLookupError, StopIteration, ValueError):
            pass
        time.sleep(0.5)
    err = p.stderr.read().decode(errors="replace")
    if p.returncode != 0:
        sys.exit(f"soak: distill failed ({p.returncode}): {err[-2000:]}")
    csv = os.path.splitext(a.out)[0] + ".csv"
    with open(csv, "w") as f:
        f.write("t_s,step,rss_mib,fds\n")
        for r in rows:
            f.write("%.1f,%d,%.1f,%d\n" % r)
    java = os.path.join(os.environ.get("JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"), "bin/java")
    subprocess.run([java, os.path.join(ROOT, "scripts/reliability/PlotSoak.java"), csv, a.out], check=True)
    leftovers = [os.path.join(d, f) for d, _, fs in os.walk(run) for f in fs if f.endswith(".tmp")]
    warm = [r for r in rows if r[1] >= a.steps * 0.1] or rows
    rss = [r[2] for r in warm]
    fds = [r[3] for r in warm]
    print(f"soak ({a.java_opts or 'default JVM heap'}): {a.steps} steps, a checkpoint every {a.ckpt_every}, {rows[-1][0]:.0f} s; after 10% of the steps: "
          f"RSS {rss[0]:.1f} -> {rss[-1]:.1f} MiB (min {min(rss):.1f}, max {max(rss):.1f}), "
          f"open fds {fds[0]} -> {fds[-1]} (min {min(fds)}, max {max(fds)}); temporary files left: {len(leftovers)}")
    print(f"soak: wrote {csv} and {a.out}")
    sys.exit(1 if leftovers else 0)


if __name__ == "__main__":
    main()
