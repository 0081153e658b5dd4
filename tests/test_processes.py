"""Real processes: a run killed with SIGKILL mid-epoch resumes to the same weights; torchrun trains one model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import torch

from aekit.cli import main
from aekit.runs import files as ckpt

# A wider model than the article's so an epoch lasts long enough to be killed inside it.
ARGS = ["train", "--hidden", "512", "--epochs", "2", "--batch-size", "8", "--checkpoint-every", "20",
        "--no-eval", "--no-progress"]


def _checkpoint_meta(run):
    try:
        return ckpt.load_tensors(run / ckpt.STATE)[1]
    except Exception:  # not written yet, or being replaced right now
        return None


def test_sigkill_mid_epoch_then_resume_gives_identical_weights(mnist_npz, tmp_path):
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "aekit", *ARGS, "--data", str(mnist_npz), "--out", str(killed)],
                            stderr=subprocess.PIPE)
    deadline = time.time() + 120
    meta = None
    while time.time() < deadline and proc.poll() is None:
        meta = _checkpoint_meta(killed)
        if meta and meta["step"] > 0 and meta["epoch"] < 1:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    meta = _checkpoint_meta(killed)
    assert meta["step"] > 0  # the checkpoint on disk is from inside an epoch

    assert main(["train", "--resume", str(killed), "--no-eval", "--no-progress"]) == 0
    full = tmp_path / "full"
    assert main([*ARGS, "--data", str(mnist_npz), "--out", str(full)]) == 0
    assert (killed / ckpt.WEIGHTS).read_bytes() == (full / ckpt.WEIGHTS).read_bytes()
    assert [r["epoch"] for r in ckpt.read_metrics(killed)] == [1, 2]
    assert not list(killed.glob(".*.tmp"))  # a write cut short by the kill is cleaned up on resume


def test_torchrun_two_cpu_processes_train_one_model(mnist_npz, tmp_path):
    common = ["--data", str(mnist_npz), "--epochs", "2", "--batch-size", "64", "--device", "cpu", "--no-eval",
              "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    dist = tmp_path / "ddp"
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "aekit", "train", *common, "--out", str(dist)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    single = tmp_path / "single"
    assert main(["train", *common, "--out", str(single)]) == 0
    a, _ = ckpt.load_tensors(dist / ckpt.WEIGHTS)
    b, _ = ckpt.load_tensors(single / ckpt.WEIGHTS)
    # Two processes, each taking half of every batch of 64, give the same model as one process (up to float
    # summation order); replicas were also checked equal inside the run.
    for k in b:
        assert torch.allclose(a[k], b[k], atol=1e-4), k
    assert len(ckpt.read_metrics(dist)) == 2  # rank 0 alone wrote
