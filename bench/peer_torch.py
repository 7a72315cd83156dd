#!/usr/bin/env python3
"""PyTorch peer benchmark for cifar-dist: the same network, trained the same way, in PyTorch.

A measuring tool, not a dependency of the project. It reports, for one thread per process and
a per-process batch of 64 (by default):

* single    -- training images/s of one process (median over timed windows);
* multi     -- aggregate training images/s of N processes under DistributedDataParallel over
               gloo on 127.0.0.1 (N * batch * steps / seconds, median over windows);
* allreduce -- median milliseconds of a gloo all_reduce of 1,250,858 float32 (the gradient size)
               between N processes.

`--coordinator-peer N1,N2,...` measures instead, for each N, what a synchronous step costs
PyTorch besides compute (the anchor of `npm run bench -- --coordinator-only`): a gloo all_reduce
of one 1,250,858-float32 gradient between N processes, divided by N (DDP's average), then
torch.optim.SGD (momentum 0.9, nesterov, weight decay 5e-4: the coordinator's optimizer) over the
reference network's parameters with that gradient. Rank 0 reports the medians of both and of
their sum per repetition (`--reps`, after a warm-up); every rank does the same work.

Each measurement runs in fresh subprocesses of this script (hidden `--_role`). The parent prints
a short table, then the JSON as the last line of stdout, and writes the same JSON to `--json`.

`--device cuda` measures `single` on the GPU instead (all CPU threads, the step timed to the end of
its GPU work with torch.cuda.synchronize); `multi` and `allreduce` are then not measured (null).

Exit codes: 0 success; 3 torch cannot be imported (stdout: {"error": ...}); 4 `--device cuda`
but torch sees no CUDA device; 2 bad arguments or `--blas-dir` given but OpenBLAS not loaded;
1 a measurement failed.

Debian's python3-torch is importable only by /usr/bin/python3; when torch is missing from the
running interpreter and /usr/bin/python3 is a different one, the script re-executes itself with
it once. `--blas-dir DIR` re-executes with LD_LIBRARY_PATH set to DIR, or to the OpenBLAS folder of
an extracted libopenblas0-{openmp,pthread,serial} package under DIR, so that torch's libblas.so.3
resolves to OpenBLAS (see bench/README.md); /proc/self/maps of every process is checked.
"""
import argparse
import glob
import json
import os
import socket
import statistics
import subprocess
import sys
import time

PARAMS = 1_250_858
NUM_CLASSES = 10
RESULT_PREFIX = "PEER_TORCH_RESULT "
ENV_REEXEC_PY = "PEER_TORCH_REEXEC_PY"
ENV_BLAS_DIR = "PEER_TORCH_BLAS_DIR"
# Debian's OpenBLAS packages (libopenblas0-openmp, -pthread, -serial) put their libblas.so.3 in
# usr/lib/<multiarch triplet>/openblas-<variant>/; tried in this order when several are there.
OPENBLAS_VARIANTS = ("openblas-openmp", "openblas-pthread", "openblas-serial")
OPENBLAS_LAYOUT = "usr/lib/<triplet>/{%s}" % ",".join(OPENBLAS_VARIANTS)


# ----------------------------------------------------------------------------------------------
# arguments and re-execution

def parse_args(argv):
    """Command line: public options plus the hidden ones the subprocesses get."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, default=2, help="processes of the multi and allreduce runs (default 2)")
    p.add_argument("--batch", type=int, default=64, help="batch per process (default 64)")
    p.add_argument("--seconds", type=float, default=None, help="measured seconds per mode (default 10; 3 with --quick)")
    p.add_argument("--windows", type=int, default=None, help="timed windows per mode, median reported (default 5; 3 with --quick)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps before timing, >= 2 (default 5; 2 with --quick)")
    p.add_argument("--reps", type=int, default=50, help="timed all_reduce repetitions (default 50)")
    p.add_argument("--quick", action="store_true", help="short run (~3 s per mode)")
    p.add_argument("--json", dest="json_path", help="also write the JSON result to this file")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="where the single-process step runs (default cpu); cuda: single only")
    p.add_argument("--coordinator-peer", metavar="N1,N2,...",
                   help="only time all_reduce + average + SGD step for each process count (see above)")
    p.add_argument("--blas-dir", help="folder holding OpenBLAS's libblas.so.3, or the root of a "
                   "`dpkg -x libopenblas0-{openmp,pthread,serial}_*.deb` tree (or /, or its usr/); "
                   "torch is run with it on LD_LIBRARY_PATH")
    # hidden: subprocess roles
    p.add_argument("--_role", choices=["single", "ddp", "allreduce", "stepcomm"], help=argparse.SUPPRESS)
    p.add_argument("--_rank", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--_port", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.seconds is None:
        a.seconds = 3.0 if a.quick else 10.0
    if a.windows is None:
        a.windows = 3 if a.quick else 5
    if a.warmup is None:
        a.warmup = 2 if a.quick else 5
    for name in ("workers", "batch", "windows", "reps"):
        if getattr(a, name) < 1:
            p.error("--%s must be >= 1" % name)
    if a.warmup < 2:
        p.error("--warmup must be >= 2 (the steps after the first size the windows)")
    if not a.seconds > 0:
        p.error("--seconds must be > 0")
    if a.coordinator_peer is not None:
        try:
            a.coordinator_peer = [int(x) for x in a.coordinator_peer.split(",")]
        except ValueError:
            p.error("--coordinator-peer must be a comma-separated list of process counts, e.g. 1,2,4,8")
        if not a.coordinator_peer or min(a.coordinator_peer) < 1:
            p.error("--coordinator-peer counts must be >= 1")
    return a


def blas_dir_candidates(d):
    """The folders tried for libblas.so.3, in order: `d` itself; then, `d` being the root of an
    extracted Debian OpenBLAS package (or of a system), usr/lib/<triplet>/openblas-<variant> for
    each variant of OPENBLAS_VARIANTS (any multiarch triplet); then lib/<triplet>/openblas-<variant>
    (`d` being such a root's usr/)."""
    yield d
    for lib in (os.path.join("usr", "lib"), "lib"):
        for variant in OPENBLAS_VARIANTS:
            for cand in sorted(glob.glob(os.path.join(glob.escape(d), lib, "*", variant))):
                yield cand


def resolve_blas_dir(d):
    """The folder to put on LD_LIBRARY_PATH: the first of blas_dir_candidates(d) that holds
    libblas.so.3 (a file, or a link to one), as an absolute path; None when none does."""
    for cand in blas_dir_candidates(d):
        if os.path.isfile(os.path.join(cand, "libblas.so.3")):
            return os.path.abspath(cand)
    return None


def reexec(python, env):
    """Replace this process with `python this_script same_args` under `env` (does not return)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(python, [python, os.path.abspath(__file__)] + sys.argv[1:], env)


def fail(code, message, json_path=None):
    """Print {"error": message} on stdout (and to --json), the message on stderr, and exit."""
    out = json.dumps({"error": message})
    print(out)
    print("peer_torch: " + message, file=sys.stderr)
    if json_path:
        try:
            with open(json_path, "w") as f:
                f.write(out + "\n")
        except OSError:
            pass
    sys.exit(code)


# ----------------------------------------------------------------------------------------------
# torch side

def import_torch(json_path):
    """Imports torch, or re-executes with /usr/bin/python3 (Debian's torch), or exits 3."""
    try:
        import torch  # noqa: F401
        return torch
    except ImportError as e:
        alt = "/usr/bin/python3"
        same = os.path.realpath(sys.executable) == os.path.realpath(alt)
        if os.path.exists(alt) and not same and not os.environ.get(ENV_REEXEC_PY):
            env = dict(os.environ)
            env[ENV_REEXEC_PY] = "1"
            reexec(alt, env)
        fail(3, "torch cannot be imported by %s: %s" % (sys.executable, e), json_path)


def blas_in_use():
    """('openblas' | 'reference' | 'unknown', library path) from this process's /proc/self/maps."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and ".so" in parts[-1]:
                    libs.add(parts[-1])
    except OSError:
        return "unknown", None
    for lib in sorted(libs):
        if "libopenblas" in os.path.basename(lib):
            return "openblas", lib
    for lib in sorted(libs):
        if os.path.basename(lib).startswith("libblas.so"):
            return "reference", lib
    return "unknown", None


def build_model(torch):
    """The reference CNN (Keras 'same' = padding 1), NCHW, 1,250,858 parameters for 10 classes."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),    # conv2d_1  32x32x32
        nn.Conv2d(32, 32, 3), nn.ReLU(),              # conv2d_2  32x30x30
        nn.MaxPool2d(2), nn.Dropout(0.25),            #           32x15x15
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),   # conv2d_3  64x15x15
        nn.Conv2d(64, 64, 3), nn.ReLU(),              # conv2d_4  64x13x13
        nn.MaxPool2d(2), nn.Dropout(0.25),            #           64x6x6
        nn.Flatten(),                                 #           2304
        nn.Linear(64 * 6 * 6, 512), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(512, NUM_CLASSES),                  # logits
    )


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def setup_threads(torch):
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set (only possible once per process)


def make_step(torch, model, batch, device="cpu"):
    """A training step on one fixed random batch (throughput does not depend on the values),
    with the model and the batch on `device`."""
    g = torch.Generator().manual_seed(1234)
    x = torch.rand(batch, 3, 32, 32, generator=g, dtype=torch.float32).to(device)
    y = torch.randint(0, NUM_CLASSES, (batch,), generator=g).to(device)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def timed_windows(step, a, agree=lambda k: k, sync=lambda: None, finish=lambda: None):
    """Warm up (`a.warmup` steps, at least 2), take the steps per window from the median time of
    the warm-up steps after the first, then time `a.windows` windows of that many steps.
    `agree` makes every rank use rank 0's step count; `sync` aligns the window starts; `finish`
    waits for queued device work (CUDA runs asynchronously) before a time is taken.
    Returns (steps per window, [seconds of each window])."""
    times = []
    for _ in range(max(2, a.warmup)):
        t0 = time.perf_counter()
        step()
        finish()
        times.append(time.perf_counter() - t0)
    per_step = statistics.median(times[1:])
    k = agree(max(1, int(round(a.seconds / a.windows / per_step))))
    secs = []
    for _ in range(a.windows):
        sync()
        t0 = time.perf_counter()
        for _ in range(k):
            step()
        finish()
        secs.append(time.perf_counter() - t0)
    return k, secs


def emit(obj):
    print(RESULT_PREFIX + json.dumps(obj), flush=True)


def role_single(torch, a):
    if a.device == "cpu":
        setup_threads(torch)
    torch.manual_seed(0)
    model = build_model(torch)
    n = count_params(model)
    assert n == PARAMS, "parameter count %d != %d" % (n, PARAMS)
    model.to(a.device)
    finish = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    k, secs = timed_windows(make_step(torch, model, a.batch, a.device), a, finish=finish)
    rates = [k * a.batch / s for s in secs]
    blas, lib = blas_in_use()
    emit({"imagesPerSecond": statistics.median(rates), "windows": rates, "stepsPerWindow": k,
          "params": n, "blas": blas, "blasLibrary": lib, "threads": torch.get_num_threads()})


def init_group(torch, a):
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % a._port,
                            rank=a._rank, world_size=a.workers)
    return dist


def role_ddp(torch, a):
    setup_threads(torch)
    dist = init_group(torch, a)
    torch.manual_seed(0)
    model = build_model(torch)
    n = count_params(model)
    assert n == PARAMS, "parameter count %d != %d" % (n, PARAMS)
    ddp = torch.nn.parallel.DistributedDataParallel(model)

    def agree(k):
        t = torch.tensor([k], dtype=torch.int64)
        dist.broadcast(t, src=0)
        return int(t.item())

    k, secs = timed_windows(make_step(torch, ddp, a.batch), a, agree=agree, sync=dist.barrier)
    dist.barrier()
    if a._rank == 0:
        rates = [a.workers * k * a.batch / s for s in secs]
        blas, lib = blas_in_use()
        emit({"imagesPerSecond": statistics.median(rates), "windows": rates, "stepsPerWindow": k,
              "params": n, "blas": blas, "blasLibrary": lib, "threads": torch.get_num_threads()})
    dist.destroy_process_group()


def role_allreduce(torch, a):
    setup_threads(torch)
    dist = init_group(torch, a)
    t = torch.ones(PARAMS, dtype=torch.float32)
    for _ in range(5):
        dist.all_reduce(t)
    ms = []
    for _ in range(a.reps):
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(t)
        ms.append((time.perf_counter() - t0) * 1e3)
    dist.barrier()
    if a._rank == 0:
        blas, lib = blas_in_use()
        emit({"medianMs": statistics.median(ms), "minMs": min(ms), "maxMs": max(ms),
              "reps": a.reps, "elements": PARAMS, "blas": blas, "blasLibrary": lib})
    dist.destroy_process_group()


def role_stepcomm(torch, a):
    """One rank of --coordinator-peer: all_reduce + average of a gradient, then the SGD step."""
    setup_threads(torch)
    dist = init_group(torch, a)
    torch.manual_seed(a._rank)
    model = build_model(torch)
    params = list(model.parameters())
    n = sum(p.numel() for p in params)
    assert n == PARAMS, "parameter count %d != %d" % (n, PARAMS)
    flat = torch.empty(PARAMS, dtype=torch.float32)
    off = 0
    for p in params:  # every .grad is a view into the one flat gradient, as in DDP's buckets
        p.grad = flat[off:off + p.numel()].view_as(p)
        off += p.numel()
    opt = torch.optim.SGD(params, lr=1e-6, momentum=0.9, nesterov=True, weight_decay=5e-4)
    gen = torch.Generator().manual_seed(1000 + a._rank)
    comm, step, total = [], [], []
    for rep in range(5 + a.reps):
        flat.copy_(torch.randn(PARAMS, generator=gen) * 1e-3)  # fresh values each repetition
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(flat)
        flat.div_(a.workers)
        t1 = time.perf_counter()
        opt.step()
        t2 = time.perf_counter()
        if rep >= 5:
            comm.append((t1 - t0) * 1e3)
            step.append((t2 - t1) * 1e3)
            total.append((t2 - t0) * 1e3)
    dist.barrier()
    if a._rank == 0:
        blas, lib = blas_in_use()
        emit({"workers": a.workers, "allreduceMs": statistics.median(comm), "optimizerMs": statistics.median(step),
              "totalMs": statistics.median(total), "minTotalMs": min(total), "maxTotalMs": max(total),
              "reps": a.reps, "elements": PARAMS, "blas": blas, "blasLibrary": lib})
    dist.destroy_process_group()


# ----------------------------------------------------------------------------------------------
# parent: orchestration

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env():
    env = dict(os.environ)
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[v] = "1"
    if "GLOO_SOCKET_IFNAME" not in env and os.path.exists("/sys/class/net/lo"):
        env["GLOO_SOCKET_IFNAME"] = "lo"
    return env


def run_role(a, role, nprocs):
    """Runs `nprocs` subprocesses of this script in `role` (ranks 0..nprocs-1) and returns the
    result dict rank 0 printed. Raises RuntimeError (with the failing stderr tail) on failure."""
    port = free_port() if role != "single" else 0
    base = [sys.executable, os.path.abspath(__file__), "--_role", role, "--_port", str(port),
            "--workers", str(nprocs), "--batch", str(a.batch), "--seconds", str(a.seconds),
            "--windows", str(a.windows), "--warmup", str(a.warmup), "--reps", str(a.reps),
            "--device", a.device]
    env = child_env()
    procs = [subprocess.Popen(base + ["--_rank", str(r)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True)
             for r in range(nprocs)]
    timeout = 180 + 4 * a.seconds + 2 * a.reps
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=timeout))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        raise RuntimeError("%s: timed out after %.0f s" % (role, timeout))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for r, (p, (_, err)) in enumerate(zip(procs, outs)):
        if p.returncode != 0:
            tail = " | ".join(err.strip().splitlines()[-3:])
            raise RuntimeError("%s rank %d exited %d: %s" % (role, r, p.returncode, tail))
    for line in reversed(outs[0][0].splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    raise RuntimeError("%s: rank 0 printed no result" % role)


def main():
    a = parse_args(sys.argv[1:])

    # --blas-dir: re-exec once with LD_LIBRARY_PATH (the dynamic loader reads it only at start).
    if a.blas_dir and not a._role:
        d = resolve_blas_dir(a.blas_dir)
        if d is None:
            fail(2, "--blas-dir %s holds no libblas.so.3 (nor %s/libblas.so.3)" % (a.blas_dir, OPENBLAS_LAYOUT), a.json_path)
        if os.environ.get(ENV_BLAS_DIR) != d:
            env = dict(os.environ)
            env[ENV_BLAS_DIR] = d
            env["LD_LIBRARY_PATH"] = d + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
            reexec(sys.executable, env)

    torch = import_torch(a.json_path)

    if a._role:
        {"single": role_single, "ddp": role_ddp, "allreduce": role_allreduce, "stepcomm": role_stepcomm}[a._role](torch, a)
        return

    t_start = time.perf_counter()
    n = count_params(build_model(torch))
    print("parameters: %d" % n, file=sys.stderr)
    assert n == PARAMS, "parameter count %d != %d" % (n, PARAMS)
    torch.zeros(2, 2) @ torch.zeros(2, 2)  # make sure the BLAS is mapped
    blas, lib = blas_in_use()
    if a.blas_dir and blas != "openblas":
        fail(2, "--blas-dir given but libopenblas is not mapped (BLAS: %s)" % lib, a.json_path)
    print("PyTorch %s (%s), BLAS %s (%s); 1 thread/process, batch %d/process, %g s x %d windows"
          % (torch.__version__, sys.executable, blas, lib, a.batch, a.seconds, a.windows), file=sys.stderr)

    if a.coordinator_peer is not None:
        return main_coordinator_peer(torch, a, t_start)

    if a.device == "cuda":
        if not torch.cuda.is_available():
            fail(4, "--device cuda: torch %s sees no CUDA device" % torch.__version__, a.json_path)
        return main_cuda(torch, a, t_start)

    try:
        single = run_role(a, "single", 1)
        multi = run_role(a, "ddp", a.workers)
        allreduce = run_role(a, "allreduce", a.workers)
    except RuntimeError as e:
        fail(1, str(e), a.json_path)
    for name, r in (("single", single), ("multi", multi), ("allreduce", allreduce)):
        if r["blas"] != blas:
            fail(2, "%s ran with BLAS %s (%s), parent with %s" % (name, r["blas"], r["blasLibrary"], blas), a.json_path)

    result = {
        "torch": torch.__version__,
        "blas": blas,
        "threadsPerProcess": 1,
        "batch": a.batch,
        "single": {"imagesPerSecond": round(single["imagesPerSecond"], 1)},
        "multi": {"workers": a.workers, "imagesPerSecond": round(multi["imagesPerSecond"], 1)},
        "allreduceMs": round(allreduce["medianMs"], 3),
        "params": single["params"],
        # details beyond the fixed keys
        "blasLibrary": lib,
        "python": sys.executable,
        "seconds": a.seconds,
        "windows": a.windows,
        "detail": {
            "singleWindows": [round(x, 1) for x in single["windows"]],
            "singleStepsPerWindow": single["stepsPerWindow"],
            "multiWindows": [round(x, 1) for x in multi["windows"]],
            "multiStepsPerWindow": multi["stepsPerWindow"],
            "allreduceMinMs": round(allreduce["minMs"], 3),
            "allreduceMaxMs": round(allreduce["maxMs"], 3),
            "allreduceReps": allreduce["reps"],
        },
        "wallSeconds": round(time.perf_counter() - t_start, 1),
    }
    rows = [("mode", "value"),
            ("single (1 proc x 1 thread)", "%.1f img/s" % result["single"]["imagesPerSecond"]),
            ("multi DDP gloo (%d procs x 1 thread)" % a.workers, "%.1f img/s" % result["multi"]["imagesPerSecond"]),
            ("all_reduce %d float32 (%d procs)" % (PARAMS, a.workers), "%.2f ms" % result["allreduceMs"])]
    w = max(len(r[0]) for r in rows)
    print("PyTorch %s peer, BLAS %s, batch %d/process, params %d" % (result["torch"], blas, a.batch, result["params"]))
    for i, (k, v) in enumerate(rows):
        print("  %s  %s" % (k.ljust(w), v))
        if i == 0:
            print("  %s  %s" % ("-" * w, "-" * 12))
    write_result(result, a.json_path)


def write_result(result, json_path):
    """The JSON result as the last line of stdout, and to `json_path` when given."""
    out = json.dumps(result)
    if json_path:
        with open(json_path, "w") as f:
            f.write(out + "\n")
    print(out)


def main_coordinator_peer(torch, a, t_start):
    """`--coordinator-peer N1,N2,...`: all_reduce + average + SGD step, per process count."""
    rows = []
    for n in a.coordinator_peer:
        try:
            r = run_role(a, "stepcomm", n)
        except RuntimeError as e:
            fail(1, str(e), a.json_path)
        rows.append({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()
                     if k not in ("blas", "blasLibrary", "elements")})
    result = {"torch": torch.__version__, "params": PARAMS, "threadsPerProcess": 1, "reps": a.reps,
              "optimizer": "SGD momentum 0.9 nesterov weight_decay 5e-4", "coordinatorPeer": rows,
              "python": sys.executable, "wallSeconds": round(time.perf_counter() - t_start, 1)}
    print("PyTorch %s: gloo all_reduce + average + SGD step of %d float32 (median of %d)" % (torch.__version__, PARAMS, a.reps))
    for r in rows:
        print("  N=%-2d all_reduce %.2f ms + optimizer %.2f ms = %.2f ms" % (r["workers"], r["allreduceMs"], r["optimizerMs"], r["totalMs"]))
    write_result(result, a.json_path)


def main_cuda(torch, a, t_start):
    """`--device cuda`: the single-process step on the GPU; multi and allreduce are null."""
    try:
        single = run_role(a, "single", 1)
    except RuntimeError as e:
        fail(1, str(e), a.json_path)
    result = {
        "torch": torch.__version__,
        "device": "cuda",
        "gpu": torch.cuda.get_device_name(0),
        "cuda": torch.version.cuda,
        "batch": a.batch,
        "single": {"imagesPerSecond": round(single["imagesPerSecond"], 1)},
        "multi": None,
        "allreduceMs": None,
        "params": single["params"],
        "python": sys.executable,
        "seconds": a.seconds,
        "windows": a.windows,
        "detail": {"singleWindows": [round(x, 1) for x in single["windows"]], "singleStepsPerWindow": single["stepsPerWindow"]},
        "wallSeconds": round(time.perf_counter() - t_start, 1),
    }
    print("PyTorch %s on %s (CUDA %s), batch %d: %.1f img/s" % (result["torch"], result["gpu"], result["cuda"], a.batch,
                                                                result["single"]["imagesPerSecond"]))
    write_result(result, a.json_path)


if __name__ == "__main__":
    main()
