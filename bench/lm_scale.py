#!/usr/bin/env python3
"""`headscope heads` at real model sizes: wall time and peak memory against prompt length.

    python3 bench/lm_scale.py --headscope build/app/headscope \\
        --make build/bench/bench_lm_scale_make --models /work/lmscale \\
        --label before --out bench/results/lm_scale_before.json \\
        [--shapes gpt2-small,qwen2.5-0.5b,llama-3.2-1b] [--tokens 64,512,2048,4096]

For each shape it makes a random-weight Hugging Face folder under --models
(bench_lm_scale_make; skipped if the folder exists), runs `headscope
categorize DIR` once (timed separately, so head_categories.json exists), a
2-token `heads` run (load ~ its wall time), then `headscope heads DIR --tokens
<T random ids in [0, 256)> --bos no --json` for each T, one process at a time,
under /usr/bin/time, prlimit --as (address space) and a timeout. A T above the
model's context is recorded as "n/a (context N)". When the runs so far project
the next T past the timeout (wall ~ a T^k fitted on the last two runs), it is
recorded as "not run: projected > N min" instead (--no-skip runs it anyway).

Prints a Markdown table and writes every result as JSON (rewritten after each
run, so an interrupted benchmark keeps what it measured) and the table as .md.
`python3 bench/lm_scale.py --render RESULTS.json` rewrites the .md of a results file.
If the binary's JSON has a "timing" object (or it accepts --timing), that is
kept per run too. Python 3 standard library only.
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

CONTEXT_KEYS = ("n_positions", "max_position_embeddings")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--headscope", required=True, help="the headscope binary to measure")
    ap.add_argument("--make", required=True, help="bench_lm_scale_make (makes missing model folders)")
    ap.add_argument("--models", required=True, help="folder holding one model folder per shape")
    ap.add_argument("--label", required=True, help="e.g. before / after")
    ap.add_argument("--out", required=True, help="results JSON (the table goes beside it as .md)")
    ap.add_argument("--md", help="Markdown table (default: --out with .md)")
    ap.add_argument("--shapes", default="gpt2-small,qwen2.5-0.5b,llama-3.2-1b")
    ap.add_argument("--tokens", default="64,512,2048,4096")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per headscope run")
    ap.add_argument("--as-limit", type=int, default=22_000_000_000, help="address-space limit in bytes (prlimit --as)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random token ids")
    ap.add_argument("--no-categorize", action="store_true", help="skip the categorize run if head_categories.json exists")
    ap.add_argument("--inproc", help="bench_lm_scale: also time load, prompt, GEMMs alone and prefix reuse in one process")
    ap.add_argument("--no-skip", action="store_true", help="run every T even when projected past the timeout")
    return ap.parse_args()


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def machine():
    mem_kib = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
    except OSError:
        pass
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "mem_gib": round(mem_kib / 2**20, 1) if mem_kib else None,
            "kernel": platform.release()}


def last_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1].strip() if lines else ""


def error_line(stderr):
    """The line that says what went wrong: torch errors end in a backtrace
    ("Exception raised from ...", "frame #N: ..."), so skip those."""
    lines = [l.strip() for l in stderr.splitlines() if l.strip()]
    keep = [l for l in lines if not l.startswith(("frame #", "Exception raised from"))]
    return (keep or lines or ["(no stderr)"])[-1]


def classify(rc, stderr, timed_out):
    if timed_out:
        return "timeout"
    if rc == 0:
        return "ok"
    low = stderr.lower()
    if any(s in low for s in ("bad_alloc", "out of memory", "cannot allocate", "defaultcpuallocator")):
        return "out of memory"
    if rc < 0:
        return "signal %d (%s)" % (-rc, signal.Signals(-rc).name if -rc in signal.valid_signals() else "?")
    if rc > 128:
        return "exit %d (signal %d?)" % (rc, rc - 128)
    return "exit %d" % rc


def busy_cpu_s():
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait
    except (OSError, ValueError, IndexError):
        return None


def run_measured(cmd, timeout, as_limit):
    """Runs cmd under prlimit --as and /usr/bin/time; returns a result dict and stdout."""
    with tempfile.TemporaryDirectory(prefix="lm_scale_") as tmp:
        time_file = os.path.join(tmp, "time")
        out_file = os.path.join(tmp, "stdout")
        err_file = os.path.join(tmp, "stderr")
        full = ["prlimit", "--as=%d" % as_limit, "--", "/usr/bin/time", "-f", "%e %M %U %S", "-o", time_file] + cmd
        busy0 = busy_cpu_s()
        t0 = time.monotonic()
        timed_out = False
        with open(out_file, "wb") as out, open(err_file, "wb") as err:
            p = subprocess.Popen(full, stdout=out, stderr=err, start_new_session=True)
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(p.pid, signal.SIGKILL)  # the group this call started
                rc = p.wait()
        wall_py = time.monotonic() - t0
        busy1 = busy_cpu_s()
        stderr = open(err_file, errors="replace").read()
        stdout = open(out_file, "rb").read().decode(errors="replace")
        wall, rss_mib, cpu_s = wall_py, None, None
        try:
            fields = last_line(open(time_file).read()).split()
            wall, rss_mib = float(fields[0]), int(fields[1]) / 1024.0
            cpu_s = float(fields[2]) + float(fields[3])
            # GNU time exits with the command's status; a signal shows as
            # "Command terminated by signal N" on the line before.
            text = open(time_file).read()
            if "terminated by signal" in text:
                rc = -int(text.split("terminated by signal")[1].split()[0])
        except (OSError, ValueError, IndexError):
            pass
        res = {"wall_s": round(wall, 2), "peak_rss_mib": round(rss_mib, 1) if rss_mib is not None else None,
               "exit_status": rc, "status": classify(rc, stderr, timed_out)}
        if cpu_s is not None:
            res["cpu_s"] = round(cpu_s, 2)  # user + sys of the measured process
            if busy0 is not None and busy1 is not None:
                # CPU the rest of the machine used meanwhile: well above 0, the timing is contended.
                res["other_cpu_s"] = round(max(0.0, busy1 - busy0 - cpu_s), 1)
        if res["status"] != "ok":
            res["stderr_last_line"] = error_line(stderr)
            res["stderr_no_backtrace"] = "\n".join(
                l for l in stderr.splitlines() if not l.strip().startswith("frame #"))[-2000:]
        return res, stdout, stderr


def context_of(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    for k in CONTEXT_KEYS:
        if isinstance(cfg.get(k), int):
            return cfg[k], cfg
    return None, cfg


def token_ids(n, seed):
    rng = random.Random(seed)  # the same seed: every prompt is a prefix of the longer ones
    return [rng.randrange(256) for _ in range(n)]


def fmt_rss(mib):
    return "%.2f" % (mib / 1024.0) if mib is not None else "-"


def markdown(results):
    lines = ["# `headscope heads` at real model sizes: %s" % results["label"], ""]
    m = results["machine"]
    lines.append("Binary `%s` (sha256 %s…), %s, %s CPUs, %s GiB RAM; address space limited to %.0f GB, "
                 "timeout %d s; random weights; prompt = T random byte ids, `--bos no`; %s." %
                 (results["headscope"], results["headscope_sha256"][:12], m["cpu"], m["cpus"], m["mem_gib"],
                  results["as_limit_bytes"] / 1e9, results["timeout_s"], results["date"]))
    lines.append("")
    inproc = any(r.get("inproc") for s in results["shapes"] for r in s["runs"])
    if inproc:
        lines.append("| shape | T | wall s | peak RSS GiB | status | other CPU s | in one process: load s | first prompt s "
                     "| prompt s | GEMMs alone s | prompt / GEMMs | T-th token typed s | peak RSS GiB |")
        lines.append("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    else:
        lines.append("| shape | T | wall s | peak RSS GiB | status | other CPU s |")
        lines.append("|---|---:|---:|---:|---|---:|")
    for s in results["shapes"]:
        rows = []
        if s.get("load"):
            rows.append(("load (T=2)", s["load"]))
        rows += [(str(r["tokens"]), r) for r in s["runs"]]
        for t, r in rows:
            wall = "%.1f" % r["wall_s"] if r.get("wall_s") is not None else "-"
            status = r["status"]
            if r.get("stderr_last_line") and r["status"] not in ("ok",) and not status.startswith(("n/a", "not run")):
                why = r["stderr_last_line"]
                big = re.search(r"you tried to allocate (\d+) bytes", why)
                if big:
                    why = "allocating %.2f GiB failed" % (int(big.group(1)) / 2**30)
                status += ": " + why[:170].replace("|", "\\|")
            other = "%.0f" % r["other_cpu_s"] if r.get("other_cpu_s") is not None else "-"
            row = "| %s | %s | %s | %s | %s | %s |" % (s["shape"], t, wall, fmt_rss(r.get("peak_rss_mib")), status, other)
            if inproc:
                ip = r.get("inproc") or {}
                if "warm_s" in ip:
                    row += " %.3f | %.2f | %.2f | %.2f | %.2f | %s | %.2f |" % (
                        ip["load_s"], ip["first_s"], ip["warm_s"], ip["gemm_s"], ip["ratio"],
                        "%.3f" % ip["append_s"] if ip.get("append_s") is not None else "-", ip["peak_rss_gb"])
                else:
                    row += " %s | | | | | | |" % (ip.get("error", "-")[:80].replace("|", "\\|") if ip else "-")
            lines.append(row)
    lines.append("")
    lines.append("*other CPU s*: CPU seconds the rest of the machine used during the run (2 cores: up to 2 x wall); "
                 "well above 0, the wall time is contended.")
    lines.append("")
    for s in results["shapes"]:
        c = s.get("categorize")
        if c:
            extra = "" if c["status"] == "ok" else " (%s: %s)" % (c["status"], c.get("stderr_last_line", ""))
            lines.append("- %s: `categorize` %.1f s, peak RSS %s GiB%s; context %s; %s parameters, %s." %
                         (s["shape"], c["wall_s"], fmt_rss(c.get("peak_rss_mib")), extra, s["context"],
                          "%.3g" % s["n_params"] if s.get("n_params") else "?", s.get("dtype", "?")))
    lines.append("")
    return "\n".join(lines)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--render":  # rewrite the .md of an existing results JSON
        path = sys.argv[2]
        with open(path) as f:
            text = markdown(json.load(f))
        with open(os.path.splitext(path)[0] + ".md", "w") as f:
            f.write(text)
        print(text)
        return 0
    a = parse_args()
    shapes = [s for s in a.shapes.split(",") if s]
    tokens = [int(t) for t in a.tokens.split(",") if t]
    md_path = a.md or (os.path.splitext(a.out)[0] + ".md")
    help_text = subprocess.run([a.headscope, "heads", "--help"], capture_output=True, text=True).stdout
    accepts_timing = "--timing" in help_text
    results = {
        "label": a.label, "headscope": os.path.abspath(a.headscope), "headscope_sha256": sha256(a.headscope),
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine(),
        "as_limit_bytes": a.as_limit, "timeout_s": a.timeout, "seed": a.seed, "tokens": tokens,
        "heads_flags": ["--json", "--bos", "no"] + (["--timing"] if accepts_timing else []),
        "accepts_timing": accepts_timing, "shapes": [],
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)

    def save():
        with open(a.out + ".tmp", "w") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
        os.replace(a.out + ".tmp", a.out)
        with open(md_path, "w") as f:
            f.write(markdown(results))

    def heads(model_dir, n):
        cmd = [a.headscope, "heads", model_dir, "--tokens", ",".join(map(str, token_ids(n, a.seed)))]
        cmd += results["heads_flags"]
        res, stdout, _ = run_measured(cmd, a.timeout, a.as_limit)
        res["tokens"] = n
        if res["status"] == "ok":
            try:
                j = json.loads(stdout)
                if isinstance(j, dict) and "timing" in j:
                    res["timing"] = j["timing"]
            except ValueError:
                res["status"] = "ok (stdout is not JSON)"
        return res

    for shape in shapes:
        model_dir = os.path.join(a.models, shape)
        entry = {"shape": shape, "dir": model_dir, "runs": []}
        results["shapes"].append(entry)
        if not os.path.isdir(model_dir):
            print("== making %s" % model_dir, flush=True)
            t0 = time.monotonic()
            p = subprocess.run([a.make, shape, model_dir])
            entry["make"] = {"wall_s": round(time.monotonic() - t0, 1), "exit_status": p.returncode}
            if p.returncode != 0:
                entry["error"] = "bench_lm_scale_make failed"
                save()
                continue
        context, cfg = context_of(model_dir)
        entry["context"] = context
        entry["dtype"] = cfg.get("torch_dtype")
        try:
            with open(os.path.join(model_dir, "headscope_random_weights.json")) as f:
                entry["n_params"] = json.load(f).get("n_params")
        except (OSError, ValueError):
            pass

        if not (a.no_categorize and os.path.exists(os.path.join(model_dir, "head_categories.json"))):
            print("== %s: categorize" % shape, flush=True)
            res, _, _ = run_measured([a.headscope, "categorize", model_dir, "--quiet"], a.timeout, a.as_limit)
            entry["categorize"] = res
            print("   %s" % json.dumps(res), flush=True)
            save()

        print("== %s: load (2 tokens)" % shape, flush=True)
        entry["load"] = heads(model_dir, 2)
        print("   %s" % json.dumps(entry["load"]), flush=True)
        save()

        for n in tokens:
            if context is not None and n > context:
                entry["runs"].append({"tokens": n, "status": "n/a (context %d)" % context})
                continue
            done = [r for r in entry["runs"] if "wall_s" in r]
            if done and not a.no_skip:
                prev = done[-1]
                if prev["status"] == "timeout":
                    entry["runs"].append({"tokens": n, "status": "not run: T=%d timed out" % prev["tokens"]})
                    continue
                if len(done) >= 2 and prev["status"] == "ok" and done[-2]["status"] == "ok":
                    w1, w2 = done[-2]["wall_s"], prev["wall_s"]
                    k = math.log(max(w2, 1e-3) / max(w1, 1e-3)) / math.log(prev["tokens"] / done[-2]["tokens"])
                    k = min(max(k, 1.0), 3.0)
                    projected = w2 * (n / prev["tokens"]) ** k
                    if projected > a.timeout:
                        entry["runs"].append({"tokens": n, "projected_wall_s": round(projected),
                                              "status": "not run: projected > %d min (~%d s)" %
                                                        (a.timeout // 60, projected)})
                        print("   T=%d: projected %.0f s, not run" % (n, projected), flush=True)
                        save()
                        continue
            print("== %s: heads T=%d" % (shape, n), flush=True)
            res = heads(model_dir, n)
            if a.inproc:
                ip, out, _ = run_measured([a.inproc, model_dir, str(n)], a.timeout, a.as_limit)
                try:
                    res["inproc"] = json.loads(last_line(out))
                except ValueError:
                    res["inproc"] = {"error": ip["status"] + ": " + ip.get("stderr_last_line", "")}
            entry["runs"].append(res)
            print("   %s" % json.dumps(res), flush=True)
            save()

    save()
    print()
    print(markdown(results))


if __name__ == "__main__":
    sys.exit(main())
