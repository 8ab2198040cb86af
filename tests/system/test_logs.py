"""Task logs: capped and rotated by the executor (stdout -> stdout.1 at --log-max-size), and
read through the agent's files API by `corral logs` (whole, --tail across stdout.1, and -f
following rotations without losing a line)."""

import os
import re
import signal
import subprocess
import tempfile
import time

import pytest

from cluster import CORRAL, SAN_ENV, Cluster, task_directory, wait_for

MIB = 1024 * 1024


def cli_env(cluster):
    return dict(os.environ, CORRAL_MASTER=f"127.0.0.1:{cluster.master.port}", **SAN_ENV)


def corral(cluster, *args, timeout=60, check=True):
    p = subprocess.run([CORRAL] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=cli_env(cluster))
    assert "ERROR: AddressSanitizer" not in p.stderr and "runtime error:" not in p.stderr, \
        p.stderr
    if check:
        assert p.returncode == 0, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    return p


def spawn(cluster, *args):
    """Start a CLI in the background. Its output goes to files, not pipes: a follower whose
    pipe nobody reads would block and fall behind on purpose."""
    out = tempfile.TemporaryFile(mode="w+")
    err = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([CORRAL] + list(args), stdout=out, stderr=err, text=True,
                            env=cli_env(cluster))
    proc.out_file, proc.err_file = out, err
    return proc


def finish(proc, timeout=60):
    """Wait for a spawned CLI; kill it if it hangs. Returns (stdout, stderr)."""
    try:
        proc.wait(timeout=timeout)
        hung = False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        hung = True
    texts = []
    for f in (proc.out_file, proc.err_file):
        f.seek(0)
        texts.append(f.read())
        f.close()
    out, err = texts
    assert not hung, f"{proc.args} did not end; stderr: {err[-2000:]}"
    assert "ERROR: AddressSanitizer" not in err and "runtime error:" not in err, err
    return out, err


@pytest.fixture
def capped(workdir, request):
    """One agent whose executors cap each stream at the size given as the param."""
    c = Cluster(workdir, agents=1, agent_extra=["--log-max-size", request.param])
    yield c
    problems = c.close()
    if problems:
        for d in c.daemons():
            print(f"----- {d.name} -----\n{d.output()[-20000:]}")
    assert not problems, problems


def consecutive_numbers(text):
    """The numbers of text's lines, checking each whole line is the previous one + 1. The
    first line may be the cut end of a longer one (a rotation splits anywhere)."""
    lines = text.split("\n")
    assert lines[-1] == "", repr(text[-100:])
    nums = [int(x) for x in lines[1:-1]]
    for a, b in zip(nums, nums[1:]):
        assert b == a + 1, (a, b)
    return nums


@pytest.mark.parametrize("capped", ["1MiB"], indirect=True)
def test_100mib_task_keeps_two_capped_files_and_the_tail(capped):
    last = 13000000  # `seq 1 13000000` prints about 101 MiB
    p = corral(capped, "exec", "--task-id", "loud", "--shell", f"seq 1 {last}", timeout=300)
    assert "FINISHED" in p.stdout, p.stdout
    d = task_directory(capped.agents[0], "loud")
    out, out1 = os.path.join(d, "stdout"), os.path.join(d, "stdout.1")
    assert os.path.getsize(out) <= MIB
    assert os.path.getsize(out1) == MIB  # a rotated file is always exactly full
    # Only the newest output is kept, ending with the last line.
    with open(out1) as f1, open(out) as f0:
        kept = f1.read() + f0.read()
    assert kept.endswith(f"\n{last}\n")
    nums = consecutive_numbers(kept)
    assert nums[-1] == last and len(nums) > 100000
    # Logs survive the task: `corral logs` prints stdout.1 then stdout.
    shown = corral(capped, "logs", "loud").stdout
    assert shown == kept
    tail = corral(capped, "logs", "--tail", "5", "loud").stdout
    assert tail == "".join(f"{n}\n" for n in range(last - 4, last + 1))
    assert corral(capped, "logs", "--stderr", "loud").stdout == ""


@pytest.mark.parametrize("capped", ["16KiB"], indirect=True)
def test_follow_across_rotations_loses_no_line(capped):
    n = 1500  # 61-byte lines, 10 every 50 ms: ~12 KB/s, rotated every ~1.3 s
    script = ('i=0; while [ $i -lt %d ]; do i=$((i+1)); '
              'printf "line-%%06d-%%050d\\n" $i 0; '
              'if [ $((i %% 10)) -eq 0 ]; then sleep 0.05; fi; done' % n)
    ex = spawn(capped, "exec", "--task-id", "slow", "--shell", "sleep 2; " + script)
    follower = None
    try:
        wait_for(lambda: "slow" in corral(capped, "tasks", "--all").stdout, timeout=30,
                 what="task known to the master")
        follower = spawn(capped, "logs", "-f", "slow")  # waits for the sandbox
        ex_out, _ = finish(ex, timeout=180)
        assert "FINISHED" in ex_out, ex_out
        out, err = finish(follower, timeout=60)
    finally:
        for proc in (ex, follower):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
                proc.out_file.close()
                proc.err_file.close()
    d = task_directory(capped.agents[0], "slow")
    assert os.path.getsize(os.path.join(d, "stdout.1")) == 16 * 1024  # it did rotate
    assert os.path.getsize(os.path.join(d, "stdout")) <= 16 * 1024
    want = [f"line-{i:06d}-{0:050d}" for i in range(1, n + 1)]
    got = out.splitlines()
    assert got == want, (len(got), [x for x in got if x not in set(want)][:5], err[-2000:])
    assert "skipped" not in err, err


def append(path, lines):
    with open(path, "a") as f:
        f.write("".join(lines))


def test_logs_follow_a_log_rotated_under_it(workdir):
    """The CLI side alone: the test itself rotates a running task's stdout the way the
    executor does (rename to stdout.1, new stdout), including a new file that outgrew the
    old offset before the next poll, and a line split across the two files."""
    c = Cluster(workdir, agents=1)
    problems = []
    ex = follower = None
    try:
        ex = spawn(c, "exec", "--task-id", "hold", "--", "sleep", "120")
        agent = c.agents[0]
        d = wait_for(lambda: task_directory(agent, "hold"), timeout=30, what="sandbox")
        out, out1 = os.path.join(d, "stdout"), os.path.join(d, "stdout.1")
        wait_for(lambda: "RUNNING" in corral(c, "tasks").stdout, timeout=30, what="running")
        seq = iter(range(1, 100000))

        def lines(k):
            return [f"rot-{next(seq):05d}\n" for _ in range(k)]

        append(out, lines(20))
        follower = spawn(c, "logs", "-f", "hold")
        time.sleep(1.2)
        for rnd in range(6):
            append(out, lines(30))
            time.sleep(0.8)  # the follower reads these at some offset
            append(out, lines(10))
            if rnd == 3:  # a line cut by the rotation: its end starts the new file
                cut = f"rot-{next(seq):05d}"
                append(out, [cut[:6]])
                os.rename(out, out1)
                with open(out, "w") as f:
                    f.write(cut[6:] + "\n")
            else:
                os.rename(out, out1)
                open(out, "w").close()
            # Right away, far more than the old offset: only the inode tells it is new.
            append(out, lines(200 if rnd % 2 else 5))
            time.sleep(0.8)
        # A last rotation leaves 5 lines in stdout and 210 in stdout.1.
        append(out, lines(10))
        os.rename(out, out1)
        append(out, lines(5))
        last = next(seq) - 1
        time.sleep(0.8)
        # --tail across the two files: stdout has 5 lines, the rest comes from stdout.1.
        tail = corral(c, "logs", "--tail", "8", "hold").stdout.splitlines()
        assert tail == [f"rot-{i:05d}" for i in range(last - 7, last + 1)], tail
        whole = corral(c, "logs", "hold").stdout.splitlines()
        assert whole == [f"rot-{i:05d}" for i in range(last - 214, last + 1)], whole[:3]
        corral(c, "kill", "hold")
        got, err = finish(follower, timeout=60)
        want = [f"rot-{i:05d}" for i in range(1, last + 1)]
        got = [x for x in got.splitlines() if x.startswith("rot-")]  # ours only
        assert got == want, ([x for x in got if x not in set(want)][:5], len(got), err)
        assert "skipped" not in err, err
        finish(ex, timeout=30)
    finally:
        for proc in (ex, follower):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                proc.out_file.close()
                proc.err_file.close()
        problems = c.close()
    assert not problems, problems


def test_logs_outlive_the_task_until_the_sandbox_is_collected(workdir):
    """Logs stay readable after the task ends, until --gc-delay removes the sandbox."""
    c = Cluster(workdir, agents=1, agent_extra=["--gc-delay", "4secs"])
    try:
        p = corral(c, "exec", "--task-id", "brief", "--shell", "echo still-here")
        assert "FINISHED" in p.stdout, p.stdout
        ended = time.time()
        d = task_directory(c.agents[0], "brief")
        assert corral(c, "logs", "brief").stdout == "still-here\n"
        wait_for(lambda: not os.path.exists(d), timeout=30, interval=0.2,
                 what="the sandbox removed by the agent's GC")
        assert time.time() - ended > 2, "removed long before --gc-delay"
        assert os.path.isdir(c.agents[0].dir)  # only the sandbox went
        p = corral(c, "logs", "brief", check=False)
        assert p.returncode == 1 and "brief" in p.stderr, (p.stdout, p.stderr)
    finally:
        problems = c.close()
    assert not problems, problems
