"""The one trainer: determinism, schedules, validation and early stopping, divergence, in-process resume."""

from __future__ import annotations

import json
import math

import pytest
import torch

from aekit import TrainConfig, storage, train
from aekit.errors import AekitError
from aekit.models import build_model
from aekit.runs import files as ckpt
from aekit.training.contract import TrainingDiverged
from aekit.training.recipe import learning_rate


def _model(seed=0, shape=(1, 28, 28)):
    torch.manual_seed(seed)
    return build_model("dense", input_shape=shape, hidden=(64,), code_size=16)


def test_same_seed_gives_bitwise_identical_weights(small_x):
    cfg = TrainConfig(epochs=2, batch_size=64, seed=3)
    a, b = _model(), _model()
    train(a, small_x, cfg, progress=False)
    train(b, small_x, cfg, progress=False)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])
    c = _model()
    train(c, small_x, TrainConfig(epochs=2, batch_size=64, seed=4), progress=False)
    assert not torch.equal(a.encoder[0].weight, c.encoder[0].weight)


def test_training_reduces_loss_and_writes_a_run(small_x, tmp_path):
    model = _model()
    res = train(model, small_x, TrainConfig(epochs=3, batch_size=32, lr=2e-3), tmp_path, progress=False,
                data_info={"source": "test"})
    losses = [r["train_loss"] for r in res.history]
    assert losses[-1] < losses[0] < 0.69
    assert res.steps == 3 * 16
    rows = [json.loads(line) for line in (tmp_path / ckpt.METRICS).read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    cfg = json.loads((tmp_path / ckpt.CONFIG).read_text())
    assert cfg["model"] == "dense" and cfg["train"]["batch_size"] == 32 and cfg["data"] == {"source": "test"}
    loaded, _ = ckpt.load_model(tmp_path)
    assert torch.equal(loaded.encoder[0].weight, model.encoder[0].weight.cpu())


def test_fractional_epochs_and_partial_last_batch(small_x):
    res = train(_model(), small_x[:100], TrainConfig(epochs=1.5, batch_size=32), progress=False)
    assert res.steps == math.ceil(1.5 * 4) and len(res.history) == 2


@pytest.mark.parametrize("schedule", ["constant", "cosine", "linear"])
def test_learning_rate_schedules(schedule):
    cfg = TrainConfig(lr=1.0, schedule=schedule, warmup=0.1, final_lr=0.0)
    lrs = [learning_rate(cfg, s, 100) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)  # linear warm-up over 10 steps
    if schedule == "constant":
        assert lrs[-1] == 1.0
    else:
        assert lrs[-1] < 0.05 and all(a >= b for a, b in zip(lrs[10:], lrs[11:]))


def test_validation_and_early_stopping_keep_the_best_weights(small_x, tmp_path):
    # A learning rate this high makes validation loss worse after the first epochs, so patience triggers.
    cfg = TrainConfig(epochs=30, batch_size=64, lr=0.05, val_fraction=0.25, patience=2)
    model = _model()
    res = train(model, small_x, cfg, tmp_path, progress=False)
    vals = [r["val_loss"] for r in res.history]
    assert res.stopped_early and len(vals) < 30
    best = min(range(len(vals)), key=vals.__getitem__)
    assert len(vals) - 1 - best == 2  # stopped `patience` epochs after the best one
    saved, _ = ckpt.load_model(tmp_path)
    from aekit.training.samples import evaluate_loss, split_validation

    _, x_val = split_validation(small_x, 0.25, 0)
    assert evaluate_loss(saved, x_val, torch.device("cpu"))["loss"] == pytest.approx(vals[best], rel=1e-5)


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(small_x, tmp_path):
    model = _model()
    train(model, small_x, TrainConfig(epochs=1, batch_size=64), tmp_path, progress=False)
    good = (tmp_path / ckpt.WEIGHTS).read_bytes()
    good_state = (tmp_path / ckpt.STATE).read_bytes()
    bad = small_x.clone()
    bad[300] = float("nan")
    with pytest.raises(TrainingDiverged, match="nan.*last good checkpoint"):
        train(_model(), bad, TrainConfig(epochs=1, batch_size=64, checkpoint_every=2), tmp_path, progress=False)
    assert (tmp_path / ckpt.WEIGHTS).read_bytes() == good
    tensors, meta = ckpt.load_tensors(tmp_path / ckpt.STATE)
    assert all(torch.isfinite(v).all() for k, v in tensors.items() if k.startswith("model."))
    assert good_state != (tmp_path / ckpt.STATE).read_bytes() or meta["step"] == 0


def test_a_nan_validation_loss_stops_training_with_the_same_clear_error(small_x, tmp_path):
    from aekit.training.samples import split_validation

    _, val_rows = split_validation(torch.arange(len(small_x)), 0.25, 0)
    bad = small_x.clone()
    bad[val_rows[0]] = float("nan")  # the training rows are all finite: only validation sees the NaN
    with pytest.raises(TrainingDiverged, match="validation loss became nan at the end of epoch 1"):
        train(_model(), bad, TrainConfig(epochs=1, batch_size=64, val_fraction=0.25), tmp_path, progress=False)


class Stop(Exception):
    """Stands in for a kill right after a checkpoint."""


def _die_after_checkpoint(monkeypatch, epoch: int, after_step: int) -> None:
    """Make the next run raise Stop right after its first mid-epoch checkpoint past ``after_step`` in ``epoch``."""
    save = storage.save_tensors

    def save_then_die(path, tensors, meta=None):
        save(path, tensors, meta)
        if meta is not None and meta["epoch"] == epoch and meta["step"] > after_step:
            raise Stop

    monkeypatch.setattr(storage, "save_tensors", save_then_die)


def _kill_and_resume(monkeypatch, x, cfg: TrainConfig, run, after_step: int, seed: int):
    """Train into ``run`` until the first checkpoint past ``after_step`` in epoch 2 "kills" it, then resume into a
    freshly initialised model (seed ``seed``: its weights must come from the checkpoint); returns that model."""
    _die_after_checkpoint(monkeypatch, epoch=1, after_step=after_step)
    with pytest.raises(Stop):
        train(_model(), x, cfg, run, progress=False)
    monkeypatch.undo()
    resumed = _model(seed=seed)
    train(resumed, x, cfg, run, resume=True, progress=False)
    return resumed


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k


def test_resume_mid_epoch_matches_an_uninterrupted_run(small_x, tmp_path, monkeypatch):
    cfg = TrainConfig(epochs=2, batch_size=32, checkpoint_every=5, schedule="cosine", warmup=0.1)
    full = _model()
    train(full, small_x, cfg, tmp_path / "full", progress=False)

    _assert_same_weights(full, _kill_and_resume(monkeypatch, small_x, cfg, tmp_path / "killed", 5, seed=99))
    rows = ckpt.read_metrics(tmp_path / "killed")
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[1]["train_loss"] == ckpt.read_metrics(tmp_path / "full")[1]["train_loss"]


def test_optimizer_state_round_trips_without_pickle(small_x):
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = model.loss(small_x[:8], model(small_x[:8]))["loss"]
    loss.backward()
    opt.step()
    tensors, meta = ckpt.optimizer_to_tensors(opt)
    json.dumps(meta)  # plain JSON
    opt2 = torch.optim.Adam(model.parameters(), lr=5.0)
    ckpt.optimizer_from_tensors(opt2, tensors, meta)
    a, b = opt.state_dict(), opt2.state_dict()
    assert b["param_groups"][0]["lr"] == 1e-3
    for pid, st in a["state"].items():
        for k, v in st.items():
            assert torch.equal(v, b["state"][pid][k])


def test_config_validation():
    for bad, message in [({"batch_size": 1.5}, "batch_size must be a whole number"),
                         ({"epochs": "3"}, "epochs must be a number"), ({"channels_last": 1}, "must be true or false"),
                         ({"betas": [0.9, "x"]}, "betas must be a list of numbers")]:
        with pytest.raises(ValueError, match=message):
            TrainConfig(**bad)
    with pytest.raises(ValueError):
        TrainConfig(optimizer="sgd")
    with pytest.raises(ValueError):
        TrainConfig(patience=3)  # needs a validation split
    with pytest.raises(ValueError):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp16")


def test_bf16_channels_last_trains_and_leaves_a_plain_fp32_model(small_x, tmp_path):
    torch.manual_seed(0)
    model = build_model("conv", input_shape=(1, 28, 28), channels=(8, 16), code_size=8, norm="batch")
    cfg = TrainConfig(epochs=2, batch_size=32, lr=3e-3, precision="bf16", channels_last=True, device="cpu")
    res = train(model, small_x, cfg, tmp_path, progress=False)
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    assert all(p.dtype == torch.float32 and p.is_contiguous() for p in model.parameters())
    loaded, _ = ckpt.load_model(tmp_path)
    assert torch.equal(loaded.eval()(small_x[:8])["x_hat"], model(small_x[:8])["x_hat"])


def test_time_limit_stops_training_and_runs_the_schedule_on_elapsed_time(small_x):
    cfg = TrainConfig(epochs=1000, batch_size=16, lr=1e-2, schedule="cosine", warmup=0.1, time_limit=1.0)
    res = train(_model(), small_x, cfg, progress=False)
    assert res.out_of_time and not res.stopped_early
    assert 1.0 <= res.seconds < 3 and res.steps < 1000 * 32
    assert res.history[-1]["lr"] < 1e-3  # the cosine has (nearly) reached zero when time runs out
    assert res.history[-1]["step"] == res.steps


def test_on_epoch_adds_to_each_record_and_is_not_counted_as_training_time(small_x):
    import time

    def probe(model):
        time.sleep(0.5)
        return {"probe": float(model.training)}

    t0 = time.perf_counter()
    res = train(_model(), small_x, TrainConfig(epochs=2, batch_size=64), progress=False, on_epoch=probe)
    assert [r["probe"] for r in res.history] == [1.0, 1.0]  # called in training mode, once per epoch
    assert res.seconds < time.perf_counter() - t0 - 0.9
    assert res.history[1]["seconds"] < res.seconds + 1e-3


def test_denoising_trains_towards_the_clean_target(small_x):
    torch.manual_seed(0)
    model = _model()
    from aekit.training.noise import corrupt
    from aekit.training.samples import evaluate_loss

    noisy_val = corrupt(small_x[:128], "gaussian", 0.5, torch.Generator().manual_seed(5))
    before = ((model(noisy_val)["x_hat"] - small_x[:128]) ** 2).mean().item()
    train(model, small_x, TrainConfig(epochs=4, batch_size=32, lr=3e-3, noise="gaussian", noise_strength=0.5),
          progress=False)
    model.cpu()  # trained where "auto" put it
    after = ((model(noisy_val)["x_hat"] - small_x[:128]) ** 2).mean().item()
    noisy = ((noisy_val - small_x[:128]) ** 2).mean().item()
    assert after < before and after < noisy  # the output is closer to the clean digits than the noisy input
    cpu = torch.device("cpu")
    val = evaluate_loss(model, small_x[:128], cpu, noise="gaussian", strength=0.5)
    assert val == evaluate_loss(model, small_x[:128], cpu, noise="gaussian", strength=0.5)  # fixed validation noise
    assert val["loss"] != evaluate_loss(model, small_x[:128], cpu)["loss"]


def test_adversarial_decoder_trains_saves_and_resumes_identically(small_x, tmp_path, monkeypatch):
    # Bitwise-identical resumes are a CPU promise: on a GPU the critic's cuDNN convolutions are not deterministic.
    cfg = TrainConfig(epochs=2, batch_size=64, adversarial=0.05, adv_start=1, checkpoint_every=3, device="cpu")
    full = _model()
    res = train(full, small_x, cfg, tmp_path / "full", progress=False)
    first, second = res.history
    assert first["train_adv"] == 0 and first["train_critic"] == 0  # off before adv_start
    assert second["train_adv"] > 0 and second["train_critic"] > 0
    tensors, meta = ckpt.load_tensors(tmp_path / "full" / ckpt.STATE)
    assert any(k.startswith("disc.") for k in tensors) and any(k.startswith("optim_d.") for k in tensors)

    _assert_same_weights(full, _kill_and_resume(monkeypatch, small_x, cfg, tmp_path / "killed", 2, seed=7))
    a, _ = ckpt.load_tensors(tmp_path / "full" / ckpt.STATE)
    b, _ = ckpt.load_tensors(tmp_path / "killed" / ckpt.STATE)
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("disc."))


def test_epoch_order_balances_groups_of_any_size():
    from aekit.training.samples import epoch_order

    groups = torch.tensor([0] * 90 + [1] * 10)
    order = epoch_order(100, 0, 0, groups)
    assert len(order) == 100 and torch.equal(order, epoch_order(100, 0, 0, groups))  # seeded
    assert (groups[order[0::2]] == 0).all() and (groups[order[1::2]] == 1).all()  # every batch draws both equally
    assert len(set(order[0::2].tolist())) == 50  # the large group: no repeats within the epoch
    assert len(set(order[1::2].tolist())) == 10  # the small group cycles, each member once per cycle
    assert not torch.equal(order, epoch_order(100, 0, 1, groups))  # a new order each epoch
    assert torch.equal(torch.sort(epoch_order(100, 3, 2)).values, torch.arange(100))  # plain permutation


def test_side_tensors_reach_forward_and_loss(small_x):
    from aekit.errors import AekitError

    seen = []

    class Tagged(build_model("dense", input_shape=(1, 28, 28), code_size=8, hidden=(32,)).__class__):
        def forward(self, x, tag=None):
            seen.append(tag.clone())
            return super().forward(x)

        def loss(self, x, out, target=None, progress=1.0, tag=None):
            assert tag is not None and len(tag) == len(x)
            return super().loss(x, out, target=target, progress=progress)

    model = Tagged(build_model("dense", input_shape=(1, 28, 28), code_size=8, hidden=(32,)).config)
    tag = torch.arange(len(small_x)) % 2
    train(model, small_x, TrainConfig(epochs=1, batch_size=64, balance="tag", val_fraction=0.25), progress=False,
          side={"tag": tag})
    assert all(int(t.sum()) * 2 == len(t) for t in seen[:-1])  # balanced batches (validation batches last)
    with pytest.raises(AekitError, match="one row per sample"):
        train(model, small_x, TrainConfig(epochs=1), progress=False, side={"tag": tag[:5]})
    with pytest.raises(AekitError, match="integer side tensor"):
        train(model, small_x, TrainConfig(epochs=1, balance="missing"), progress=False, side={"tag": tag})


def test_weight_average_is_the_exponential_moving_average_of_the_steps():
    from aekit.training.ema import WeightAverage

    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    avg = WeightAverage(net, decay=0.5)
    expected = None
    for i in range(4):
        with torch.no_grad():
            net[0].weight.add_(float(i + 1))
        net(torch.randn(8, 3))  # moves batch norm's running stats and its step count
        w = net[0].weight.detach().clone()
        d = min(0.5, (1 + i) / (10 + i))  # the warm-up: 0.1, 0.18, 0.25, 0.31 here, all under 0.5
        expected = w if expected is None else d * expected + (1 - d) * w
        avg.update()
    state = avg.state_dict()
    assert torch.allclose(state["0.weight"], expected)
    assert not torch.allclose(state["0.weight"], net[0].weight)
    assert int(state["1.num_batches_tracked"]) == 4  # integer buffers follow the model
    kept = net[0].weight.detach().clone()
    with avg.applied():
        assert torch.equal(net[0].weight, state["0.weight"])
    assert torch.equal(net[0].weight, kept)  # the training weights come back


def test_ema_becomes_the_trained_model_without_changing_the_training_path(small_x, tmp_path, monkeypatch):
    import dataclasses

    cfg = TrainConfig(epochs=2, batch_size=32, lr=2e-3, ema=0.9, val_fraction=0.25, checkpoint_every=5, device="cpu")
    plain, averaged = _model(), _model()
    train(plain, small_x, dataclasses.replace(cfg, ema=0.0), progress=False)
    res = train(averaged, small_x, cfg, tmp_path / "ema", progress=False)
    assert not torch.equal(plain.encoder[0].weight, averaged.encoder[0].weight)
    tensors, _ = ckpt.load_tensors(tmp_path / "ema" / ckpt.STATE)
    for k, v in plain.state_dict().items():  # the optimiser's path is the plain run's, step for step
        assert torch.equal(tensors["model." + k], v), k
    saved, _ = ckpt.load_tensors(tmp_path / "ema" / ckpt.WEIGHTS)
    for k, v in averaged.state_dict().items():
        assert torch.equal(saved[k], v), k  # model.safetensors holds the average
        assert torch.equal(tensors["ema.module." + k], v), k
    # validation ran on the average: its loss is that of the returned weights
    from aekit.training.samples import evaluate_loss, split_validation

    _, x_val = split_validation(small_x, 0.25, 0)
    assert evaluate_loss(averaged, x_val, torch.device("cpu"))["loss"] == pytest.approx(res.history[-1]["val_loss"])

    # a kill in epoch 2, then resume: the same average
    _assert_same_weights(averaged, _kill_and_resume(monkeypatch, small_x, cfg, tmp_path / "killed", 5, seed=5))
    with pytest.raises(ValueError, match="ema"):
        TrainConfig(ema=1.0)


def test_resume_refuses_a_checkpoint_without_the_critic_or_average_it_needs(small_x, tmp_path):
    from aekit.errors import AekitError
    cfg = TrainConfig(epochs=1, batch_size=64)
    train(_model(), small_x[:128], cfg, tmp_path, progress=False)
    for extra, words in (({"adversarial": 0.1}, "no critic"), ({"ema": 0.9}, "no weight average")):
        with pytest.raises(AekitError, match=words):
            train(_model(), small_x[:128], TrainConfig(epochs=2, batch_size=64, **extra), tmp_path, progress=False,
                  resume=True)
    (tmp_path / ckpt.STATE).write_bytes(b"not a checkpoint")
    with pytest.raises(AekitError):
        train(_model(), small_x[:128], TrainConfig(epochs=2, batch_size=64), tmp_path, progress=False, resume=True)


def test_compile_trains_like_eager_and_a_compile_failure_is_one_clear_error(small_x, monkeypatch):
    import dataclasses

    from aekit.errors import AekitError

    cfg = TrainConfig(epochs=1, batch_size=64, lr=2e-3, seed=1)
    eager, compiled = _model(), _model()
    train(eager, small_x, cfg, progress=False)
    res = train(compiled, small_x, dataclasses.replace(cfg, compile=True), progress=False)
    assert res.steps == 8 and math.isfinite(res.history[-1]["train_loss"])
    assert type(compiled).__name__ == "DenseAutoencoder"  # the caller's model comes back, not the compiled wrapper
    for k, v in eager.state_dict().items():  # the same training, up to Inductor's float reordering
        assert torch.allclose(compiled.state_dict()[k], v, atol=1e-3), k

    from torch._dynamo.exc import TorchDynamoException

    def broken(_net):
        def forward(*args, **kwargs):
            raise TorchDynamoException("no C++ compiler found\nlong traceback")
        return forward

    monkeypatch.setattr(torch, "compile", broken)
    with pytest.raises(AekitError, match=r"^torch.compile failed: no C\+\+ compiler found \(train without compile\)$"):
        train(_model(), small_x, dataclasses.replace(cfg, compile=True), progress=False)


def test_a_model_too_big_for_the_machine_is_refused_before_training(monkeypatch):
    import sys

    train_module = sys.modules["aekit.training.loop"]
    model = build_model("dense", input_shape=(6,), hidden=(64,), code_size=2)
    pages = {"SC_PHYS_PAGES": 2, "SC_PAGE_SIZE": 4096}  # a machine of 8 KiB: 1,160 weights x 4 bytes x 4 copies
    monkeypatch.setattr(train_module.os, "sysconf", lambda name: pages[name])
    with pytest.raises(AekitError, match=r"needs about .* GiB .* the cpu has"):
        train(model, torch.rand(32, 6), TrainConfig(epochs=1, device="cpu"), progress=False)
    pages["SC_PHYS_PAGES"] = 1 << 20  # 4 GiB: trains
    assert train(model, torch.rand(32, 6), TrainConfig(epochs=1, device="cpu"), progress=False).history


def test_train_config_is_grouped_but_stays_flat_for_json_toml_and_flags():
    import dataclasses

    from aekit.training.config import GROUPS, Adversarial, Augment, Noise, Optimiser, Schedule, TrainConfig

    cfg = TrainConfig(lr=0.01, noise="gaussian", adversarial=0.1)
    names = [f.name for f in dataclasses.fields(cfg)]
    grouped = [name for group in GROUPS for name in group.__annotations__]
    assert len(grouped) == len(set(grouped)) and set(grouped) < set(names)  # each field in at most one group
    assert cfg.group(Optimiser)["lr"] == 0.01 and cfg.group(Noise) == {"noise": "gaussian", "noise_strength": 0.5,
                                                                  "noise_max": 0.0}
    assert cfg.group(Adversarial)["adversarial"] == 0.1 and "epochs" in cfg.group(Schedule)
    assert not TrainConfig().augments() and TrainConfig(augment_rotate=5.0).group(Augment)["augment_rotate"] == 5.0
    assert names[:4] == ["epochs", "batch_size", "optimizer", "lr"] and names[-1] == "time_limit"  # config.json order
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainConfig(optimizer="sgd")
