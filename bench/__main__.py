"""Run every benchmark in turn, each in a process of its own: `python -m bench`.

python -m bench                      # all of them, with their defaults
python -m bench inbound outbound     # some of them (bench_<name>.py)
python -m bench inbound -- --seconds 10 --backends sqlite   # one, with its own options
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT = 600.0  # seconds a benchmark may run before it is interrupted


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def run_one(name: str, extra: list[str]) -> int:
    """Run one benchmark; past TIMEOUT, interrupt it (it cleans up on Ctrl-C), then kill it."""
    child = subprocess.Popen([sys.executable, "-m", f"bench.bench_{name}", *extra], cwd=HERE.parent)
    try:
        return child.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"== bench_{name}: still running after {TIMEOUT:.0f} s, interrupting it", flush=True)
        child.send_signal(signal.SIGINT)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        return 124
    except KeyboardInterrupt:
        child.wait()  # it got the Ctrl-C too and is cleaning up
        raise


def main(argv: list[str]) -> int:
    names, extra = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    if any(n in ("-h", "--help") for n in names):
        print(__doc__)
        print("benchmarks:", ", ".join(available()))
        return 0
    chosen = names or available()
    unknown = [n for n in chosen if n not in available()]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; there are: {', '.join(available())}")
        return 2
    if extra and len(chosen) != 1:
        print("options after -- go to one benchmark: name exactly one")
        return 2
    failed = []
    for name in chosen:
        print(f"== bench_{name}", flush=True)
        began = time.monotonic()
        code = run_one(name, extra)
        outcome = "ok" if code == 0 else f"exit {code}"
        print(f"== bench_{name}: {outcome} in {time.monotonic() - began:.0f} s\n", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
