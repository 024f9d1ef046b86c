"""Mutation testing of the core modules with Cosmic Ray: `make mutation [MODULE=...] [WORKERS=2]`.

For each module in mutation/modules.toml: the module's own tests run once unmutated (they
must pass), then once per mutant in a copy of the tree (the working tree is never changed), at
most two at a time. Prints killed and survived per module, the score, and every survivor.
docs/mutation.md explains the operators and lists the survivors known to be equivalent.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "mutation" / "modules.toml"
WORK = ROOT / "var" / "mutation"
BIN = Path(sys.executable).parent

# The operators run: the ones whose mutants are bugs a person could write (a wrong comparison,
# a negated or dropped condition, an off-by-one, a loop never entered, an exception not caught).
# Cosmic Ray's other operators swap every arithmetic or comparison operator for every other one
# (`a + b` into `a ^ b`, `x == y` into `x is y`), or insert and rename variables: many times the
# mutants, nearly all killed by any import or all equivalent, for hours of CPU.
KEEP = [
    r"core/AddNot",
    r"core/ReplaceAndWithOr",
    r"core/ReplaceOrWithAnd",
    r"core/ReplaceTrueWithFalse",
    r"core/ReplaceFalseWithTrue",
    r"core/ReplaceBreakWithContinue",
    r"core/ReplaceContinueWithBreak",
    r"core/ZeroIterationForLoop",
    r"core/ExceptionReplacer",
    r"core/NumberReplacer",
    r"core/RemoveDecorator",
    r"core/ReplaceComparisonOperator_(Eq_NotEq|NotEq_Eq|Is_IsNot|IsNot_Is)",
    r"core/ReplaceComparisonOperator_(Lt_LtE|LtE_Lt|Gt_GtE|GtE_Gt|Lt_Gt|Gt_Lt|LtE_GtE|GtE_LtE)",
    r"core/ReplaceBinaryOperator_(Add_Sub|Sub_Add|Mul_Div|Div_Mul|FloorDiv_Div|Mod_FloorDiv)",
    r"core/ReplaceUnaryOperator_(Delete_Not|USub_UAdd)",
]

# Copied for each worker: the tree as it is now, committed or not, without what is rebuilt.
SKIP_IN_COPY = shutil.ignore_patterns(
    ".git", ".venv", "var", "__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info",
    "node_modules", "test-artifacts",
)  # fmt: skip


@dataclass
class Module:
    path: str
    tests: list[str]
    timeout: float | None = None
    args: list[str] = field(default_factory=list)  # more pytest arguments, e.g. ["-k", "..."]
    # Survivors no test could kill, each with why: {operator, mutant (the mutated line), why}.
    equivalent: list[dict[str, str]] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "_", self.path.removesuffix(".py"))


@dataclass
class Outcome:
    module: str
    killed: int
    survived: list[tuple[int, str, str]]  # line, operator, the changed line
    equivalent: list[tuple[int, str, str]]  # survivors listed as equivalent, with why
    incompetent: int
    seconds: float

    @property
    def total(self) -> int:
        return self.killed + len(self.survived) + len(self.equivalent)

    @property
    def score(self) -> float:
        """Killed, of every mutant."""
        return 100.0 * self.killed / self.total if self.total else 100.0

    @property
    def score_of_the_rest(self) -> float:
        """Killed, of the mutants that are not listed as equivalent."""
        rest = self.total - len(self.equivalent)
        return 100.0 * self.killed / rest if rest else 100.0


def load_modules() -> list[Module]:
    data = tomllib.loads(CONFIG.read_text())
    return [
        Module(
            path,
            list(entry["tests"]),
            entry.get("timeout"),
            list(entry.get("args", [])),
            entry.get("equivalent", []),
        )
        for path, entry in data["modules"].items()
    ]


def test_command(module: Module) -> str:
    # -p no:randomly keeps the order, -x stops at the first failure: a mutant is killed as
    # soon as one test notices it. No xdist: the workers are the parallelism.
    # Plugins are not auto-loaded (see _env): only the two the tests need, which saves most of
    # pytest's start-up.
    args = [
        str(BIN / "python"), "-m", "pytest", "-x", "-q", "--no-header", "-p", "no:cacheprovider",
        "-p", "pytest_asyncio.plugin", "-p", "pytest_timeout", *module.args, *module.tests,
    ]  # fmt: skip
    return shlex.join(args)


def excluded_operators() -> list[str]:
    names = subprocess.run(
        [str(BIN / "cosmic-ray"), "operators"], check=True, capture_output=True, text=True
    ).stdout.split()
    keep = re.compile("|".join(f"(?:{k})$" for k in KEEP))
    return [re.escape(name) + "$" for name in names if not keep.match(name)]


def write_config(module: Module, path: Path, timeout: float, urls: list[str]) -> None:
    excluded = excluded_operators()
    lines = [
        "[cosmic-ray]",
        f"module-path = {_toml(module.path)}",
        f"timeout = {timeout:.1f}",
        "excluded-modules = []",
        f"test-command = {_toml(test_command(module))}",
        "",
        "[cosmic-ray.distributor]",
        f"name = {_toml('http' if urls else 'local')}",
        "",
        "[cosmic-ray.distributor.http]",
        f"worker-urls = [{', '.join(_toml(u) for u in urls)}]",
        "",
        "[cosmic-ray.filters.operators-filter]",
        f"exclude-operators = [{', '.join(_toml(e) for e in excluded)}]",
        "",
    ]
    path.write_text("\n".join(lines))


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def workers(module: Module, count: int) -> Iterator[tuple[list[Path], list[str]]]:
    """``count`` copies of the tree, each with a Cosmic Ray worker of its own (none for 1).
    Named after the module: two modules may run at once, one worker each."""
    trees = []
    for n in range(count):
        tree = WORK / f"tree-{module.slug}-{n}"
        if tree.exists():
            shutil.rmtree(tree)
        shutil.copytree(ROOT, tree, ignore=SKIP_IN_COPY, symlinks=True)
        # Compiled once here: each mutant's run then compiles only the mutated module (its
        # source is newer than the compiled copy), and writes nothing.
        subprocess.run(
            [str(BIN / "python"), "-m", "compileall", "-q", "-j", "1", "app", "bot", "handlers",
             "webhook", "tests"],
            cwd=tree, check=True,
        )  # fmt: skip
        trees.append(tree)
    if count == 1:
        yield trees, []
        return
    procs, urls = [], []
    try:
        for tree in trees:
            port = _free_port()
            procs.append(
                subprocess.Popen(
                    [str(BIN / "cosmic-ray"), "http-worker", "--port", str(port)],
                    cwd=tree,
                    env=_env(tree),
                    stdout=subprocess.DEVNULL,
                    stderr=open(tree / "worker.log", "w"),  # noqa: SIM115
                    start_new_session=True,
                )  # fmt: skip
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            _wait_for(url)
        yield trees, urls
    finally:
        for proc in procs:
            _stop(proc.pid)
            proc.wait(timeout=30)


def _stop(pid: int) -> None:
    """End a worker and the test run it may have started (in a session of its own)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:  # a child of the worker: its test run's group
                os.killpg(int(stat.parent.name), signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _wait_for(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, int(port)), 1):
            return
        time.sleep(0.2)
    raise SystemExit(f"the worker at {url} did not start")


def _env(tree: Path) -> dict[str, str]:
    # The copy's code, not the working tree's (the package is installed in editable mode).
    env = dict(
        os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )  # fmt: skip
    env.pop("PYTEST_ADDOPTS", None)
    return env


def baseline(module: Module, tree: Path) -> float:
    started = time.monotonic()
    run = subprocess.run(
        shlex.split(test_command(module)), cwd=tree, env=_env(tree), capture_output=True, text=True
    )
    if run.returncode != 0:
        sys.stdout.write(run.stdout[-4000:] + run.stderr[-2000:])
        raise SystemExit(f"{module.path}: its tests fail without any mutation; fix them first")
    return time.monotonic() - started


def run_module(module: Module, count: int, survivors: bool = False) -> Outcome:
    WORK.mkdir(parents=True, exist_ok=True)
    session = WORK / f"{module.slug}.sqlite"
    config = WORK / f"{module.slug}.toml"
    started = time.monotonic()
    if survivors:
        again(module, session)
    with workers(module, count) as (trees, urls):
        took = baseline(module, trees[0])
        timeout = module.timeout or max(30.0, 4 * took + 10)
        print(
            f"{module.path}: tests pass unmutated in {took:.1f} s; timeout {timeout:.0f} s",
            flush=True,
        )
        write_config(module, config, timeout, urls)
        cr = str(BIN / "cosmic-ray")
        env = _env(trees[0])
        if not survivors:
            session.unlink(missing_ok=True)
            subprocess.run(
                [cr, "init", str(config), str(session)], cwd=trees[0], env=env, check=True
            )
            subprocess.run(
                [str(BIN / "cr-filter-operators"), str(session), str(config)], cwd=trees[0],
                env=env, check=True,
            )  # fmt: skip
            subprocess.run(
                [str(BIN / "cr-filter-pragma"), str(session)], cwd=trees[0], env=env, check=True
            )
        subprocess.run(
            [cr, "--verbosity", "WARNING", "exec", str(config), str(session)], cwd=trees[0],
            env=env, check=True,
        )  # fmt: skip
    session.with_suffix(".source").write_text((ROOT / module.path).read_text())
    return summarise(module, session, time.monotonic() - started)


def again(module: Module, session: Path) -> None:
    """Forget the survivors' results in the last session, so that only they run again: for
    tests added since, when the module itself has not changed (its mutants are numbered by
    position in its source)."""
    if not session.exists():
        raise SystemExit(f"no earlier session for {module.path}: run it whole first")
    source = (ROOT / module.path).read_text()
    kept = session.with_suffix(".source")
    if not kept.exists() or kept.read_text() != source:
        raise SystemExit(f"{module.path} changed since its last session: run it whole")
    with contextlib.closing(sqlite3.connect(session)) as db, db:
        db.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")


def summarise(module: Module, session: Path, seconds: float) -> Outcome:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    source = (ROOT / module.path).read_text().splitlines()
    known = {(e["operator"], _squeeze(e["mutant"])): e["why"] for e in module.equivalent}
    killed = incompetent = 0
    survived, equivalent = [], []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            if result.test_outcome == TestOutcome.SURVIVED:
                mutation = item.mutations[0]
                line = mutation.start_pos[0]
                changed = _changed_line(result.diff) or source[line - 1].strip()
                operator = mutation.operator_name.removeprefix("core/")
                why = known.get((operator, _squeeze(changed)))
                if why is not None:
                    equivalent.append((line, operator, f"{changed}    [{why}]"))
                else:
                    survived.append((line, operator, changed))
            else:
                killed += 1
                incompetent += result.test_outcome == TestOutcome.INCOMPETENT
    survived.sort()
    equivalent.sort()
    return Outcome(module.path, killed, survived, equivalent, incompetent, seconds)


def _squeeze(line: str) -> str:
    """A line without its spaces: Cosmic Ray keeps a number's leading space (`f( 2)`)."""
    return re.sub(r"\s+", "", line)


def _changed_line(diff: str | None) -> str:
    for line in (diff or "").splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            return line[1:].strip()
    return ""


def report(outcomes: list[Outcome]) -> None:
    print()
    for o in outcomes:
        print(f"== {o.module}: {len(o.survived)} survived, {len(o.equivalent)} equivalent")
        for line, operator, changed in o.survived:
            print(f"  {o.module}:{line}  {operator}  ->  {changed}")
        for line, operator, changed in o.equivalent:
            print(f"  (equivalent) {o.module}:{line}  {operator}  ->  {changed}")
    print()
    print("| module | mutants | killed | equivalent | survived | score | without equivalent |")
    print("|---|---|---|---|---|---|---|")
    for o in outcomes:
        print(
            f"| `{o.module}` | {o.total} | {o.killed} | {len(o.equivalent)} | {len(o.survived)} "
            f"| {o.score:.0f} % | {o.score_of_the_rest:.0f} % |"
        )


def main() -> None:
    # Stopped from outside: still end the workers and their test runs (the finally above).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(prog="python -m mutation", description=__doc__)
    parser.add_argument("--module", help="one module, as listed in mutation/modules.toml")
    parser.add_argument("--workers", type=int, default=2, help="mutants at once (1 or 2)")
    parser.add_argument(
        "--survivors", action="store_true",
        help="run only the last session's survivors again (the module unchanged since)",
    )  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list the modules and their tests")
    args = parser.parse_args()
    modules = load_modules()
    if args.list:
        for m in modules:
            print(f"{m.path}: {' '.join(m.tests)}")
        return
    if args.module:
        wanted = args.module.removeprefix("./")
        modules = [m for m in modules if m.path == wanted]
        if not modules:
            raise SystemExit(f"{args.module} is not in {CONFIG.relative_to(ROOT)}")
    count = min(max(args.workers, 1), 2)  # the machines this runs on have two cores
    outcomes = []
    for module in modules:
        outcomes.append(run_module(module, count, args.survivors))
        report(outcomes[-1:])
    if len(outcomes) > 1:
        report(outcomes)


if __name__ == "__main__":
    main()
