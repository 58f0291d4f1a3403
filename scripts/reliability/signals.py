#!/usr/bin/env python3
"""SIGTERM / SIGINT at random moments of every long command: counts exit codes and crashes.

Usage: scripts/reliability/signals.py [--tries N] [--commands distill,sample,...] [--work DIR]
A crash is an hs_err file, a death by signal, or an exit code other than 130/143 (or 0 when the
command finished before the signal). Prints one row per command, as in the README's table.
"""
import argparse, collections, os, random, shutil, signal, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DI = os.path.join(ROOT, "diffinstruct")
T = os.path.join(ROOT, "assets/fashion-mnist/teacher.pt")
G = os.path.join(ROOT, "assets/fashion-mnist/generator.pt")


def commands(work):
    s = os.path.join(work, "s.npy")
    return {
        # (argv, seconds the command needs to get past start-up, seconds it runs in all about)
        "distill": ["distill", "--out", os.path.join(work, "d"), "--steps", "100000", "--ckpt-every", "50", "-q"],
        "train-teacher": ["train-teacher", "--model", os.path.join(work, "unet.pt"), "--data", "fashion-mnist",
                          "--out", os.path.join(work, "tt"), "--steps", "100000", "--batch", "8", "-q"],
        "refine": ["refine", "--generator", os.path.join(work, "mlp_gen.pt"), "--out", os.path.join(work, "r"),
                   "--steps", "100000", "-q"],
        "sample": ["sample", "--generator", G, "--n", "20000", "--batch", "250", "--out", s],
        "teacher-sample": ["teacher-sample", "--teacher", T, "--teacher-kind", "edm", "--shape", "1,28,28", "--n", "2000",
                           "--steps", "18", "--batch", "250", "--out", os.path.join(work, "t.npy")],
        "eval": ["eval", "--samples", os.path.join(work, "ref.npy"), "--reference", "fashion-mnist", "--features", os.path.join(ROOT, "assets/fashion-mnist/features.pt")],
        "demo": ["demo", "--out", os.path.join(work, "demo-out")],
    }


def prepare(work):
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ)
    if not os.path.exists(os.path.join(work, "ref.npy")):
        subprocess.run([DI, "sample", "--generator", G, "--n", "3000", "--out", os.path.join(work, "ref.npy")],
                       check=True, stdout=subprocess.DEVNULL, env=env)
    if not os.path.exists(os.path.join(work, "unet.pt")):
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "models/export_unet.py"), "--out", os.path.join(work, "unet.pt")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not os.path.exists(os.path.join(work, "mlp_gen.pt")):
        code = ("import torch\nfrom typing import List\n"
                "class G(torch.nn.Module):\n  latent_shape: List[int]\n"
                "  def __init__(s):\n    super().__init__(); s.latent_shape=[2]\n"
                "    s.net=torch.nn.Sequential(torch.nn.Linear(2,64),torch.nn.SiLU(),torch.nn.Linear(64,2))\n"
                "  def forward(s, z):\n    return s.net(z)\n"
                f"torch.jit.script(G()).save({os.path.join(work, 'mlp_gen.pt')!r})\n")
        src = os.path.join(work, "mlp_gen.py")  # TorchScript needs the source in a file
        with open(src, "w") as f:
            f.write(code)
        subprocess.run(["/usr/bin/python3", src], check=True, stderr=subprocess.DEVNULL)


def one(name, argv, work, rng, max_delay):
    for d in ("d", "tt", "r", "demo-out"):
        shutil.rmtree(os.path.join(work, d), ignore_errors=True)
    cwd = os.path.join(work, "cwd")
    shutil.rmtree(cwd, ignore_errors=True)
    os.makedirs(cwd)
    sig = rng.choice([signal.SIGTERM, signal.SIGINT])
    delay = rng.uniform(0.3, max_delay)
    # SIGINT back to its default in the child: a background job (cmd &) starts with SIGINT ignored,
    # which the JVM respects (it then cannot be stopped by SIGINT at all, as intended for nohup jobs)
    p = subprocess.Popen([DI] + argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(delay)
    # the JVM, not the bash wrapper (which execs it: same pid)
    p.send_signal(sig)
    try:
        out, _ = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        return "hang", sig, delay, out
    hs = [f for f in os.listdir(cwd) if f.startswith("hs_err")]
    rc = p.returncode
    if hs or rc < 0 or rc in (134, 139):
        return "crash", sig, delay, out
    if rc == 128 + sig:
        return "stopped", sig, delay, out
    if rc == 0:
        return "finished", sig, delay, out
    return f"exit {rc}", sig, delay, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tries", type=int, default=50)
    ap.add_argument("--commands", default=",".join(commands("/x")))
    ap.add_argument("--work", default="/tmp/di-signals")
    ap.add_argument("--max-delay", type=float, default=4.0, help="latest moment of the signal, seconds after start")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    prepare(a.work)
    rng = random.Random(a.seed)
    cmds = commands(a.work)
    bad = 0
    print(f"{'command':16} {'tries':>5} {'stopped 130/143':>16} {'finished':>9} {'other':>6} {'crashes':>8}")
    for name in a.commands.split(","):
        c = collections.Counter()
        for i in range(a.tries):
            what, sig, delay, out = one(name, cmds[name], a.work, rng, a.max_delay)
            c[what] += 1
            if what not in ("stopped", "finished"):
                bad += 1
                sys.stderr.write(f"--- {name} try {i}: {what} after {signal.Signals(sig).name} at {delay:.2f} s\n"
                                 + out.decode(errors="replace")[-2000:] + "\n")
        other = sum(v for k, v in c.items() if k not in ("stopped", "finished", "crash", "hang"))
        print(f"{name:16} {a.tries:5} {c['stopped']:16} {c['finished']:9} {other:6} {c['crash'] + c['hang']:8}", flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
