"""The paired identity swap benchmark (benchmarks/swap.py's paired part) end to end on a tiny model and few images."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from aekit.data.identities import identity_share, render

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import _paired  # noqa: E402
import _paired_judges as judges  # noqa: E402
import _report  # noqa: E402
import swap  # noqa: E402

IDS = ["bold", "paper"]


@pytest.fixture(scope="module")
def identity_files(mnist, tmp_path_factory):
    """Each identity's first 128 images of its own share of MNIST's training images, drawn by it, as an .npz."""
    folder = tmp_path_factory.mktemp("identities")
    files = {}
    for name in IDS:
        share = identity_share(name, len(mnist.x_train))[:128]
        files[name] = str(folder / f"{name}.npz")
        np.savez(files[name], x_train=render(name, mnist.x_train[share]), x_test=render(name, mnist.x_test[:32]))
    return files


@pytest.fixture(scope="module")
def paired_run(identity_files, tmp_path_factory):
    """The whole paired benchmark on two identities: tiny judges, critics and swap models, 24 evaluated digits."""
    opts = {"identities": IDS, "pair": IDS, "epochs": 1.0, "adversarial": 0.1, "n_eval": 24, "n_critic": 16,
            "judge_epochs": 1, "judge_train": 300, "judge_test": 200, "identity_train": 200, "feature_epochs": 1,
            "model": {"channels": [8, 16], "blocks_per_stage": 1, "code_size": 4, "cycle": 1.0, "edges": 0.5,
                      "thicken": 0.3},
            "train": {"batch_size": 32, "device": "cpu", "seed": 0, "disc_channels": [8, 16]},
            "sources": identity_files}
    saved = []
    result, run, made = _paired.paired(opts, tmp_path_factory.mktemp("paired"),
                                       lambda part: saved.append(json.loads(json.dumps(part))))
    return result, run, made, saved


def test_the_paired_benchmark_scores_every_direction_against_the_truth(paired_run):
    result, run, made, saved = paired_run
    assert run.domains == tuple(IDS)
    assert not saved[0]["complete"] and not saved[0]["variants"] and saved[-1]["complete"]  # written as it goes
    assert saved[-1] == json.loads(json.dumps(result))
    assert set(result["variants"]) == {"adv", "no_adv", "no_strokes", "pair"}  # the model has stroke augmentations
    assert result["strokes"]["with"]["content_kept"] == result["content_kept"]
    assert result["strokes"]["without"]["psnr"] == result["variants"]["no_strokes"]["summary"]["psnr"]
    for key in ("adv", "no_adv", "no_strokes", "pair"):
        directions = result["variants"][key]["directions"]
        assert set(directions) == {"bold->paper", "paper->bold"}
        for d in directions.values():
            assert d["psnr_gap_db"] == pytest.approx(d["ceiling_psnr"] - d["psnr"])
            for part in (d, d["copy"], d["reconstruction"]):
                assert all(0 <= part[k] <= 1 for k in ("content", "identity", "realism", "realism_ranked"))
                assert -1 <= part["ssim"] <= 1
                assert 0 < part["psnr"] < 100
    floor = result["variants"]["adv"]["kid_floor"]  # real drawings against real drawings of other digits
    for key, d in result["variants"]["adv"]["directions"].items():  # a copy of the source is far from b's drawings
        assert d["copy"]["kid"] > 10 * abs(floor[key.split("->")[1]])
    main = result["variants"]["adv"]["directions"].values()
    assert result["content_kept"] == min(d["content"] for d in main)
    assert result["psnr_gap_db"] == max(d["psnr_gap_db"] for d in main)
    assert result["judge_accuracy"] == min(result["judges"][k]["test_accuracy"] for k in IDS)
    assert set(result["goals"]) == {"content_kept", "identity", "psnr_gap_db", "judge_accuracy", "adversarial"}
    assert made["bold", "paper"].shape == (24, 28, 28, 3) and made["bold", "paper"].dtype == np.uint8


def test_the_swaps_are_what_the_library_makes_and_the_figure_shows_source_truth_swap_ceiling(paired_run, mnist):
    from aekit.apps.swap import swap_images

    result, run, made, _ = paired_run
    x = mnist.x_test[:24]
    assert np.array_equal(made["bold", "paper"], swap_images(run, render("bold", x), "paper")[0])
    blocks = _paired.figure_blocks({"x": mnist.x_test}, made, IDS, n=8)
    assert [[label.split(":")[0].split(" ")[0] for label, _ in block] for block in blocks] == \
        [["source", "truth", "swap", "ceiling"]] * 2
    assert np.array_equal(blocks[1][1][1], render("paper", x[:8]))  # the truth is the identity's drawing


def test_the_swap_section_shows_the_paired_part_once_it_is_complete(paired_run):
    result = {**paired_run[0], "argv": "--part paired --workdir w", "seconds": 120.0, "machine": {"torch_threads": 1}}
    text = swap.section({"swap": {"paired": result}})
    assert text.startswith("### Paired identities") and "| no swap: the source image itself |" in text
    assert "| bold |  | " in text and "Goals: content kept >= 0.97" in text
    assert "| the same, without the encoder's stroke augmentations |" in text and "**The stroke augmentations**" in text
    assert "Command: `python benchmarks/swap.py --part paired` (2 minutes on 1 CPU thread)." in text
    reused = {**result, "options": {**result["options"], "reuse": True}}
    assert "; the swap models reused from an earlier run)" in swap.section({"swap": {"paired": reused}})
    kept = {**result, "judges": {**result["judges"], "bold": {**result["judges"]["bold"], "kept": True}}}
    assert "; the content judges reused from an earlier run)" in swap.section({"swap": {"paired": kept}})
    unpaired = json.loads((_report.RESULTS / "swap.json").read_text())
    unpaired.pop("paired", None)
    assert swap.section({"swap": unpaired}) == swap.section({"swap": {**unpaired, "paired": {"complete": False}}})
    both = swap.section({"swap": {**unpaired, "paired": result}})
    assert both.index("### Paired identities") < both.index("### Unpaired") < both.index("Domain a: MNIST")


def test_the_critics_rank_is_how_often_a_swap_outranks_a_real_drawing_wherever_the_critic_cuts():
    class Brightness(torch.nn.Module):  # calls an image real the brighter it is, by its mean less ``cut``
        def __init__(self, cut):
            super().__init__()
            self.cut = cut

        def forward(self, x):
            m = x.mean((1, 2, 3))
            return torch.stack([torch.zeros_like(m), m - self.cut], 1)

    def images(levels):
        return np.repeat(np.asarray(levels, np.uint8)[:, None, None, None], 4, 1).repeat(4, 2).repeat(3, 3)

    real, swaps = images([100, 200]), images([50, 150, 150, 250])
    for cut, share in ((0.0, 1.0), (0.5, 0.75), (1.0, 0.0)):
        critic = _paired.Critic(Brightness(cut), judges.realness(Brightness(cut), real))
        got = critic.realism(swaps)
        # pairs (swap, real): 50 beats none, each 150 beats 100, 250 beats both: 4 of 8, whatever the cut
        assert got == pytest.approx({"realism": share, "realism_ranked": 0.5})
    assert _paired.Critic(Brightness(0.5), judges.realness(Brightness(0.5), real)).realism(real)["realism_ranked"] \
        == pytest.approx(0.5)  # real drawings against real drawings: it cannot tell them apart


def test_the_headline_names_each_goal_met_or_not():
    def run(content, identity, gap, psnr, realism, kid=0.1):
        d = {"content": content, "identity": identity, "psnr_gap_db": gap, "psnr": psnr, "ceiling_psnr": psnr + gap,
             "ssim": 0.9, "realism": realism, "realism_ranked": realism / 2, "kid": kid,
             "copy": {"psnr": 10, "content": 0.5, "identity": 0, "realism": 0, "realism_ranked": 0, "kid": 2.0},
             "reconstruction": {"psnr": 12, "content": 0.6, "identity": 0, "realism": 0.1, "realism_ranked": 0.05,
                                "kid": 1.9}}
        return {"directions": {"a->b": d, "b->a": {**d, "content": 0.99}}, "summary": _paired.summary({"a->b": d}),
                "kid_floor": {"a": 0.02, "b": 0.04}}

    result = {"judges": {"a": {"test_accuracy": 0.995}, "b": {"test_accuracy": 0.991},
                         "identity": {"test_accuracy": 1.0}},
              "variants": {"adv": run(0.98, 0.99, 1.0, 20.0, 0.6), "no_adv": run(0.98, 0.99, 1.0, 20.3, 0.2, 0.2),
                           "pair": {"directions": {}}}}
    result["variants"]["pair"] = {"directions": {"a->b": result["variants"]["adv"]["directions"]["a->b"]},
                                  "summary": result["variants"]["adv"]["summary"]}
    head = _paired.headline(result)
    assert head["goals"] == {"content_kept": True, "identity": True, "psnr_gap_db": True, "judge_accuracy": True,
                             "adversarial": True}
    assert head["adversarial_cost_db"] == pytest.approx(0.3) and head["judge_accuracy"] == 0.991
    assert head["kid"] == pytest.approx({"adversarial": 0.1, "without": 0.2, "floor": 0.03})
    assert head["realism_ranked"] == pytest.approx({"adversarial": 0.3, "without": 0.1})
    result["variants"]["no_adv"] = run(0.98, 0.99, 1.0, 20.3, 0.9, 0.05)  # realism is read by the kernel distance
    assert not _paired.headline(result)["goals"]["adversarial"]
    result["variants"]["no_adv"] = run(0.98, 0.99, 1.0, 21.0, 0.2, 0.2)  # the critic's gain now costs 1 dB
    result["variants"]["adv"] = run(0.96, 0.99, 1.6, 20.0, 0.6)
    assert _paired.headline(result)["goals"] == {"content_kept": False, "identity": True, "psnr_gap_db": False,
                                                 "judge_accuracy": True, "adversarial": False}


def test_the_detector_benchmark_puts_its_headline_into_swap_json_and_keeps_the_rest(tmp_path):
    import detect

    (tmp_path / "swap.json").write_text(json.dumps({"paired": {"complete": True}, "a_to_b": {"content": 0.9}}))
    auroc = {"same_run": 0.99, "other_run": 0.97, "other_generators": 0.96}
    detect.share_with_swap({"detector_auroc": auroc, "detector_auroc_jpeg75": {**auroc, "same_run": 0.98},
                            "detector_auroc_with_reference": {**auroc, "other_run": 0.99},
                            "detector_auroc_with_reference_jpeg75": auroc, "detectors": {}}, tmp_path)
    stored = json.loads((tmp_path / "swap.json").read_text())
    assert stored["detector_auroc"] == auroc and stored["detector_auroc_jpeg75"]["same_run"] == 0.98
    assert stored["detector_auroc_with_reference"]["other_run"] == 0.99
    assert stored["paired"] == {"complete": True} and stored["a_to_b"] == {"content": 0.9}
    assert "detectors" not in stored  # only the headline keys
    assert set(swap.SHARED) >= {"paired", *detect.SHARED}  # what an unpaired rerun keeps
    assert detect.RUNS["same_run"][0] != detect.RUNS["other_run"][0]  # (b) is another run's identities


def test_reuse_opens_the_run_already_there_instead_of_training_again(paired_run):
    run = paired_run[1]
    before = sorted((p.name, p.stat().st_mtime_ns) for p in run.path.iterdir())
    again, info = _paired.train_model(IDS, run.path, {}, {"epochs": 1.0}, reuse=True)
    assert again.fingerprint == run.fingerprint and info["reused"] and info["steps"] > 0
    assert sorted((p.name, p.stat().st_mtime_ns) for p in run.path.iterdir()) == before  # nothing written


def test_the_content_judges_also_learn_from_digits_moved_off_centre(mnist):
    import _paired_judges

    grey = mnist.x_train[:40]
    moved = _paired_judges.shifted(grey, 2, seed=3)
    assert np.array_equal(moved, _paired_judges.shifted(grey, 2, seed=3))  # seeded
    padded = np.pad(grey, ((0, 0), (2, 2), (2, 2)))
    offsets = set()
    for i in range(len(grey)):  # each is its digit at one offset within +-2 pixels, black where nothing was
        found = [(dy, dx) for dy in range(5) for dx in range(5)
                 if np.array_equal(moved[i], padded[i, dy : dy + 28, dx : dx + 28])]
        assert found
        offsets.add(found[0])
    assert len(offsets) > 5


def test_a_kept_content_judge_is_loaded_and_measured_again_instead_of_trained_again(mnist, tmp_path, monkeypatch):
    import _paired_judges
    import torch

    args = (mnist.x_train[:200], mnist.y_train[:200], mnist.x_test[:100], mnist.y_test[:100], 1)
    net, info = _paired_judges.kept_content_judge(tmp_path, "paper", *args)
    _paired_judges.kept_content_judge(tmp_path, "bold", *args[:-1], 2)  # other settings: another file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content-bold-200-digits-2-epochs.safetensors",
                                                          "content-paper-200-digits-1-epochs.safetensors"]
    monkeypatch.setattr(_paired_judges, "content_judge", None)  # training again would fail
    again, info_again = _paired_judges.kept_content_judge(tmp_path, "paper", *args)
    assert info_again == {**info, "kept": True} and "kept" not in info
    for (name, a), b in zip(net.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name


def test_the_paired_oracle_scores_every_direction_and_its_gap_to_the_ceiling(mnist):
    import swap_oracle
    import torch
    from _paired_judges import DigitJudge

    torch.manual_seed(0)
    judges = {"bold": DigitJudge(), "paper": DigitJudge()}  # untrained: the plumbing, not the figure
    o = swap_oracle.oracle(["bold", "paper"], epochs=0.01, n_eval=20, judges=judges)
    assert sorted(o["psnr"]) == sorted(o["content_kept"]) == ["bold->bold", "bold->paper", "paper->bold",
                                                              "paper->paper"]
    assert o["gap_db"]["bold->paper"] == pytest.approx(o["psnr"]["paper->paper"] - o["psnr"]["bold->paper"])
    assert o["largest_gap_db"] == max(o["gap_db"].values()) and o["train_images"] == 15000
    assert o["lowest_content_kept"] == min(o["content_kept"]["bold->paper"], o["content_kept"]["paper->bold"])
    assert all(k * 20 == round(k * 20) for k in o["content_kept"].values())  # shares of the 20 digits
    p = {"psnr_gap_db": 9.0, "content_kept": 0.85}
    base = {**o, "seconds": 60.0, "machine": {"cpu_count": 2, "torch_threads": 1}, "argv": "--epochs 8 --judges J"}
    far = swap.oracle_line({**base, "largest_gap_db": 3.8, "lowest_content_kept": 0.98}, p)
    near = swap.oracle_line({**base, "largest_gap_db": 1.0, "lowest_content_kept": 0.9}, p)
    assert "out of reach" in far and "3.80 dB short" in far and "9.00 dB" in far
    assert "within the goal" in near and "out of reach" not in near
    assert "0.980 at lowest" in far and "survives every drawing" in far and "survives" not in near
    assert "`python benchmarks/swap_oracle.py --epochs 8`" in far  # where the judges are kept is not a setting
    assert "(conv (32, 64, 128), 2 blocks per stage, a 16-channel code map)" in far
    assert "swap model above" not in far and "passes per direction, falls" in far
    longer = swap.oracle_line(base, {**p, "options": {"epochs": 19.2}})
    assert "0.01 passes per direction (the swap model above had 19.2), falls" in longer
    assert "with the same backbone" in swap.oracle_line({k: v for k, v in base.items() if k != "backbone"}, p)
    psnr = {"bold->bold": 30.0, "bold->paper": 25.0, "paper->bold": 27.0, "paper->paper": 32.0}
    summary = {"psnr": 22.0, "ceiling_psnr": 23.5}
    poorer = swap.oracle_line({**base, "psnr": psnr, "largest_gap_db": 7.0},
                              {**p, "psnr_gap_db": 2.5, "variants": {"adv": {"summary": summary}}})
    assert "2.50 dB, smaller because its own reconstructions are poorer" in poorer
    assert "the oracle's swaps reach 26.0 dB on average and the swap's 22.0 dB (their ceilings 31.0 and 23.5" in poorer
    better = swap.oracle_line({**base, "psnr": psnr, "largest_gap_db": 7.0},
                              {**p, "psnr_gap_db": 2.5, "variants": {"adv": {"summary": {**summary, "psnr": 27.0}}}})
    assert "2.50 dB; against the truth" in better and "poorer" not in better
    directions = {"bold->paper": {"psnr_gap_db": 1.0}, "paper->bold": {"psnr_gap_db": 2.5}}
    named = swap.oracle_line({**base, "psnr": psnr, "gap_db": {"bold->paper": 7.0, "paper->bold": 5.0}},
                             {**p, "psnr_gap_db": 2.5, "variants": {"adv": {"directions": directions}}})
    assert "The swap's largest gap is 2.50 dB (paper -> bold, where the oracle's is 5.00 dB)" in named


def test_the_shortfall_names_the_directions_below_the_goal_and_the_identity_the_weakest_share():
    ids = ["bold", "outline", "paper"]
    directions = {f"{a}->{b}": {"content": 0.5 if "outline" in (a, b) else 0.96} for a in ids for b in ids if a != b}
    directions["paper->bold"]["content"] = 0.99  # meets the goal of 0.97
    own = {"bold": {"content": 0.98}, "outline": {"content": 0.9}, "paper": {"content": 0.99}}
    p = {"variants": {"adv": {"directions": directions, "summary": {"copy": {"content": 0.3}}, "ceiling": own}}}
    line = _paired.kept_line(p)
    assert "5 of 6 directions" in line and "0.500 to 0.960" in line and "itself scores 0.300" in line
    assert "the 4 weakest all go into or out of `outline`" in line
    assert "keep 0.900 (`outline`) to 0.990" in line and "`outline` falls below the goal before any swap" in line
    p["variants"]["no_strokes"] = {"ceiling": {b: {"content": c} for b, c in zip(ids, (0.97, 0.95, 0.99))}}
    assert "(0.950 to 0.990 without the stroke augmentations)" in _paired.kept_line(p)
    own["outline"]["content"] = 0.975
    assert "before any swap" not in _paired.kept_line(p)
    directions["bold->paper"]["content"] = 0.4  # then bold -> outline, outline -> bold: 3 share `bold`
    assert "the 3 weakest all go into or out of `bold`" in _paired.kept_line(p)
    apart = {"a->b": {"content": 0.5}, "c->d": {"content": 0.6}}
    line = _paired.kept_line({"variants": {"adv": {"directions": apart, "summary": {"copy": {"content": 0.1}}}}})
    assert "2 of 2 directions" in line and "weakest all go" not in line and line.endswith("0.100).")
    one = {**apart, "a->b": {"content": 0.5, "copy": {"content": 0.2}}, "c->d": {"content": 0.99}}
    line = _paired.kept_line({"variants": {"adv": {"directions": one, "summary": {"copy": {"content": 0.1}}}}})
    assert ("1 of 2 directions of the main run keeps less of the digit than the goal of 0.97: a -> b, 0.500 (the "
            "source image itself scores 0.200)") in line
    assert _paired.kept_line({"variants": {"adv": {"directions": {"a->b": {"content": 0.99}}}}}).startswith("Every")


def test_the_unpaired_detector_reads_the_pixels_a_model_made_without_a_watermark(tmp_path):
    from aekit.runs.provenance import read_pixel_mark

    images = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    back = swap.stripped_pixels(images, tmp_path, "ab" * 32)
    assert np.array_equal(back, images)  # what the detector scores is what the model made
    assert all(read_pixel_mark(p) is None for p in sorted((tmp_path / "stripped").iterdir()))
    assert len(list((tmp_path / "marked").iterdir())) == 3


def test_the_model_without_stroke_augmentations_is_trained_only_when_the_benchmark_s_model_has_one():
    opts = {"identities": ["a", "b", "c"], "pair": ["a", "b"], "epochs": 2.0, "adversarial": 0.1,
            "model": {"cycle": 1.0, "edges": 0.5}}
    got = {key: (ids, weight, epochs, model) for key, ids, weight, epochs, model in _paired.variants(opts)}
    assert list(got) == ["adv", "no_adv", "no_strokes", "pair"]
    assert got["no_strokes"] == (["a", "b", "c"], 0.1, 2.0, {"cycle": 1.0, "edges": 0.0, "thicken": 0.0})
    assert got["adv"][3] == got["no_adv"][3] == got["pair"][3] == opts["model"] and got["pair"][2] == 3.0
    thick = {key: model for key, _, _, _, model in _paired.variants({**opts, "model": {"thicken": 0.3}})}
    assert thick["no_strokes"] == {"thicken": 0.0, "edges": 0.0}
    assert [v[0] for v in _paired.variants({**opts, "model": {"cycle": 1.0}})] == ["adv", "no_adv", "pair"]


def test_the_section_names_the_swap_models_backbone():
    model = {"channels": [32, 64, 128], "blocks_per_stage": 2, "spatial_code": True, "code_size": 16}
    assert _paired.model_words(model) == "conv (32, 64, 128), 2 blocks per stage, a 16-channel code map"
    vector = {"channels": [8], "blocks_per_stage": 1, "spatial_code": False, "code_size": 4}
    assert _paired.model_words(vector) == "conv (8), 1 block per stage, a 4-dimensional code"
