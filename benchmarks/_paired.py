"""The paired identity swap of ``benchmarks/swap.py``: a swap with a ground truth.

Identities are aekit's fixed appearance renderers (``aekit.data.identities``: bold, outline, paper, bleed), each
trained on its own disjoint share of MNIST's training images through its named dataset (``mnist-bold``, ...), so no
model ever sees a pair. For a held-out MNIST test digit x drawn by identity a, the true swap into b is render_b(x).
Every swap model is trained by ``aekit.apps.swap.train_swap`` and queried by ``swap_images`` (the library's API).

MNIST's test images are split into parts that never mix: the evaluation part (the first ``n_eval``), and from 5,000
on the realism critics' parts (their real and swap training images, and their held-out check).

Per direction a -> b, on the evaluation part: PSNR and SSIM of the swap against render_b(x); the ceiling, the same
model's own reconstruction of render_b(x) against it; content kept, b's digit judge reading the swap's digit;
identity, the identity judge naming b; realism, measured twice: the kernel distance (KID) between the swaps and real
drawings of b of other digits (the critics' real part) in the features of b's digit judge, beside the same distance
for b's real drawings of the evaluation digits (the floor), and b's critic (real b against this model's swaps into b,
trained on the critic parts): the share of swaps it scores as real (which hangs on where its 0.5 falls, and saturates
when every critic wins) and how often it finds a swap more real than one of its held-out real drawings (0.5: it cannot
tell them apart). The same measures for two no-swap baselines: the source image itself (a copy) and the model's
reconstruction of it by its own decoder.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import _paired_judges as judges
import numpy as np
import torch
from _report import conv_model, device

from aekit.apps.swap import swap_images, train_swap
from aekit.data import load_dataset
from aekit.data.identities import PREFIX, render
from aekit.metrics.fid import kernel_distance
from aekit.metrics.reconstruction import auroc, psnr, ssim
from aekit.runs.run import Run

CRITIC_FROM = 5000  # MNIST test images from here on train and check the realism critics; the evaluation ends before


def arrow(direction: str) -> str:
    """A direction key as the report writes it: "a->b" -> "a -> b"."""
    return direction.replace("->", " -> ")


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def critic_parts(n: int) -> dict[str, slice]:
    """Four disjoint slices of MNIST's test images from CRITIC_FROM on: the critics' real and swap training images,
    then their held-out real and swap check images (n each; the check gets half as many)."""
    m = n // 2
    at = [CRITIC_FROM, CRITIC_FROM + n, CRITIC_FROM + 2 * n, CRITIC_FROM + 2 * n + m, CRITIC_FROM + 2 * n + 2 * m]
    if at[-1] > 10000:
        raise ValueError(f"n_critic {n} does not fit in MNIST's test images after {CRITIC_FROM}")
    return {"real": slice(at[0], at[1]), "swap": slice(at[1], at[2]), "real_check": slice(at[2], at[3]),
            "swap_check": slice(at[3], at[4])}


def judge_test_part(opts: dict) -> slice:
    """MNIST's test images the judges are checked on: those between the evaluation part and the critics' (or the
    first ``judge_test`` of them)."""
    return slice(opts["n_eval"], min(CRITIC_FROM, opts["n_eval"] + opts.get("judge_test", 10000)))


def content_judges(identities: list[str], opts: dict) -> tuple[dict, dict]:
    """identity -> its content judge (trained on all of MNIST's training images drawn by it, or the first
    ``judge_train``; kept in and reused from ``judge_dir`` when there is one), and identity -> the judge's record
    with its accuracy on real drawings of ``judge_test_part``."""
    mnist, device = load_dataset("mnist"), opts["train"].get("device", "cpu")
    n, test = opts["judge_train"], judge_test_part(opts)
    nets, info = {}, {}
    for name in identities:
        nets[name], info[name] = judges.kept_content_judge(
            opts.get("judge_dir"), name, mnist.x_train[:n], mnist.y_train[:n], mnist.x_test[test],
            mnist.y_test[test], opts["judge_epochs"], device)
        log("content judge", name, info[name])
    return nets, info


def train_judges(identities: list[str], opts: dict) -> dict:
    """The content judges (``content_judges``) and the identity judge, with their accuracies on real drawings of
    ``judge_test_part``."""
    mnist, test = load_dataset("mnist"), judge_test_part(opts)
    out = dict(zip(("content", "info"), content_judges(identities, opts)))
    out["identity"] = judges.identity_judge(identities, mnist.x_train[: opts["identity_train"]], mnist.x_test[test],
                                            epochs=opts.get("feature_epochs"),
                                            device=opts["train"].get("device", "cpu"))
    out["info"]["identity"] = {"test_accuracy": out["identity"].meta["test_accuracy"]}
    log("identity judge", out["info"]["identity"])
    return out


def train_model(identities: list[str], out, model: dict, recipe: dict,
                sources: dict | None = None, reuse: bool = False) -> tuple[Run, dict]:
    """A swap run on the identities' named datasets (or on ``sources``, {identity: data}); returns it and its step
    count and seconds. ``reuse``: the run already in ``out`` when there is one (trained with the same settings)."""
    start = time.perf_counter()
    sources = sources or {name: PREFIX + name for name in identities}
    if reuse and (Path(out) / "config.json").exists():
        run = Run.open(out)
    else:
        run = train_swap({name: sources[name] for name in identities}, out, model_options=model,
                         train_options=recipe, force=True, progress=False)
    rows = run.history()
    return run, {"steps": int(rows[-1].get("step", 0)) if rows else 0, "epochs": recipe["epochs"],
                 "images": {d.name: d.train for d in run.config.data.domains},
                 "seconds": round(time.perf_counter() - start, 1), "reused": reuse}


def all_outputs(run: Run, drawn: dict[str, np.ndarray]) -> dict[tuple[str, str], np.ndarray]:
    """(a, b) -> the run's images of ``drawn[a]`` decoded as b, uint8 (N, H, W, 3), for every pair of its
    identities (a == b: its reconstructions)."""
    return {(a, b): swap_images(run, drawn[a], b)[0] for a in run.domains for b in run.domains}


def _tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).double() / 255


def measures(out: np.ndarray, truth: np.ndarray, y: np.ndarray, b: str, ctx: dict, critic=None) -> dict:
    """Images meant as identity b of digits y against b's true drawings ``truth``."""
    ids = list(ctx["identities"])
    o, t = _tensor(out), _tensor(truth)
    digits, feats = judges.read(ctx["judges"]["content"][b], out)
    got = {"psnr": psnr(t, o), "ssim": ssim(t, o), "content": float((digits == y).mean()),
           "identity": float((judges.predict(ctx["judges"]["identity"], out) == ids.index(b)).mean())}
    if critic is not None:
        got.update(critic.realism(out))
    return {**got, "kid": kernel_distance(feats, ctx["reference"][b])}


def kid(images: np.ndarray, b: str, ctx: dict) -> float:
    """The kernel distance between images meant as identity b and b's reference drawings, in b's judge's features."""
    return kernel_distance(judges.features(ctx["judges"]["content"][b], images), ctx["reference"][b])


def references(identities: list[str], ctx: dict) -> dict[str, np.ndarray]:
    """Per identity b: b's judge's features of its real drawings of the critics' real part of the test digits."""
    grey = ctx["grey"][critic_parts(ctx["n_critic"])["real"]]
    return {b: judges.features(ctx["judges"]["content"][b], render(b, grey)) for b in identities}


def swaps_into(run: Run, b: str, x: np.ndarray) -> np.ndarray:
    """Grey digits x, each drawn by one of the run's other identities in turn, swapped into b: uint8 RGB."""
    others = [a for a in run.domains if a != b]
    who = np.arange(len(x)) % len(others)
    out = np.empty((*x.shape, 3), np.uint8)
    for k, a in enumerate(others):
        out[who == k] = swap_images(run, render(a, x[who == k]), b)[0]
    return out


@dataclass
class Critic:
    """Identity b's realism critic (real drawings of b against one model's swaps into b) and its margins for real
    held-out drawings of b (the critic parts' real check)."""

    net: torch.nn.Module
    real: np.ndarray

    def realism(self, images: np.ndarray) -> dict:
        """``realism``: the share of images the critic calls real. ``realism_ranked``: how often it finds one of
        them more real than a real drawing (each image against each held-out one; 0.5 when it cannot tell them
        apart), which unlike the share does not hang on where the critic's 0.5 happens to fall."""
        margin = judges.realness(self.net, images)
        ranked = auroc(np.r_[np.zeros(len(self.real)), np.ones(len(margin))], np.r_[self.real, margin])
        return {"realism": float((margin > 0).mean()), "realism_ranked": float(ranked)}


def train_critics(run: Run, grey: np.ndarray, n: int, epochs: int | None = None, device: str = "cpu") -> dict:
    """Per identity b of the run: a ``Critic`` of real b against the run's swaps into b (``swaps_into``), trained on
    ``device`` and checked on the critic parts of the test images (``epochs``: None, the feature net's default)."""
    p = critic_parts(n)
    critics = {}
    for b in run.domains:
        real_check = render(b, grey[p["real_check"]])
        net = judges.realism_critic(render(b, grey[p["real"]]), swaps_into(run, b, grey[p["swap"]]), real_check,
                                    swaps_into(run, b, grey[p["swap_check"]]), epochs=epochs, device=device)
        critics[b] = Critic(net, judges.realness(net, real_check))
    return critics


def score_run(run: Run, ctx: dict) -> dict:
    """Every direction of the run: the swap, its ceiling and the two no-swap baselines, with the run's critics."""
    x, y = ctx["x"], ctx["y"]
    drawn = {name: render(name, x) for name in run.domains}
    made = all_outputs(run, drawn)
    critics = train_critics(run, ctx["grey"], ctx["n_critic"], ctx.get("feature_epochs"), ctx["device"])
    ceiling = {b: measures(made[b, b], drawn[b], y, b, ctx, critics[b]) for b in run.domains}
    out = {"directions": {}, "ceiling": ceiling, "kid_floor": {b: kid(drawn[b], b, ctx) for b in run.domains},
           "critic_accuracy": {b: c.net.meta["test_accuracy"] for b, c in critics.items()}}
    for a in run.domains:
        for b in (d for d in run.domains if d != a):
            swap = measures(made[a, b], drawn[b], y, b, ctx, critics[b])
            out["directions"][f"{a}->{b}"] = {
                **swap, "ceiling_psnr": ceiling[b]["psnr"], "psnr_gap_db": ceiling[b]["psnr"] - swap["psnr"],
                "copy": measures(drawn[a], drawn[b], y, b, ctx, critics[b]),
                "reconstruction": measures(made[a, a], drawn[b], y, b, ctx, critics[b])}
    out["summary"] = summary(out["directions"])
    return out, made


def summary(directions: dict) -> dict:
    """The headline numbers over directions: the lowest content and identity, the largest PSNR gap, means."""
    rows = list(directions.values())

    def mean(key, part=None):
        return float(np.mean([(r[part] if part else r)[key] for r in rows]))

    return {"content_kept": min(r["content"] for r in rows), "identity": min(r["identity"] for r in rows),
            "psnr_gap_db": max(r["psnr_gap_db"] for r in rows), "psnr": mean("psnr"), "ssim": mean("ssim"),
            "ceiling_psnr": mean("ceiling_psnr"), "content_mean": mean("content"), "identity_mean": mean("identity"),
            "realism": mean("realism"), "realism_ranked": mean("realism_ranked"), "kid": mean("kid"),
            **{part: {k: mean(k, part) for k in ("psnr", "content", "identity", "realism", "realism_ranked", "kid")}
               for part in ("copy", "reconstruction")}}


def figure_blocks(ctx: dict, made: dict, identities: list[str], n: int = 6) -> list[list[tuple[str, np.ndarray]]]:
    """Per identity b: the source (the same digits drawn by the identity before b), the truth, the swap, the
    ceiling."""
    blocks = []
    for i, b in enumerate(identities):
        a = identities[i - 1]
        blocks.append([(f"source: {a}", render(a, ctx["x"][:n])), (f"truth: {b}", render(b, ctx["x"][:n])),
                       (f"swap {a} -> {b}", made[a, b][:n]), (f"ceiling: {b} -> {b}", made[b, b][:n])])
    return blocks


STROKES = ("edges", "thicken")  # the swap model's augmentations of the strokes the encoder sees
GOALS = {"content_kept": 0.97, "identity": 0.97, "psnr_gap_db": 1.5, "judge_accuracy": 0.99, "adversarial_cost_db": 0.5}


def variants(opts: dict) -> list[tuple[str, list[str], float, float, dict]]:
    """(key, identities, adversarial weight, epochs, model): K identities with and without the adversarial decoder,
    without the encoder's stroke augmentations (``STROKES``: when the model has one), and the pair alone, trained
    for as many steps as the K-identity runs (its data is a fraction of theirs)."""
    ids, pair, epochs, model, adv = opts["identities"], opts["pair"], opts["epochs"], opts["model"], opts["adversarial"]
    plain = ([("no_strokes", ids, adv, epochs, {**model, **dict.fromkeys(STROKES, 0.0)})]
             if any(model.get(k) for k in STROKES) else [])
    return [("adv", ids, adv, epochs, model), ("no_adv", ids, 0.0, epochs, model), *plain,
            ("pair", pair, adv, epochs * len(ids) / len(pair), model)]


def context(opts: dict) -> dict:
    """What every model is scored with: the evaluation digits, the judges, the realism references."""
    mnist = load_dataset("mnist")
    ctx = {"identities": opts["identities"], "x": mnist.x_test[: opts["n_eval"]],
           "y": mnist.y_test[: opts["n_eval"]], "grey": mnist.x_test, "n_critic": opts["n_critic"],
           "feature_epochs": opts.get("feature_epochs"), "device": opts["train"].get("device", "cpu")}
    ctx["judges"] = train_judges(opts["identities"], opts)
    ctx["reference"] = references(opts["identities"], ctx)
    return ctx


def paired(opts: dict, work, save) -> tuple[dict, Run, dict]:
    """The whole paired benchmark; ``save(result)`` after each stage (partial results survive an interruption).
    Returns the result, the main (adversarial) run and its outputs (for the figure)."""
    kept = {k: v for k, v in opts.items() if k != "judge_dir"}  # where judges are kept is not a setting
    result = {"complete": False, "identities": opts["identities"], "pair": opts["pair"], "options": kept,
              "data": {"eval": opts["n_eval"], "critic_parts": {k: [v.start, v.stop] for k, v in
                                                                critic_parts(opts["n_critic"]).items()}},
              "variants": {}}
    ctx = context(opts)
    result["judges"] = ctx["judges"]["info"]
    save(result)
    main = None
    for key, ids, weight, epochs, model in variants(opts):
        recipe = {**opts["train"], "adversarial": weight, "epochs": epochs}
        run, info = train_model(ids, work / key, model, recipe, opts.get("sources"), opts.get("reuse", False))
        log(key, "trained", info)
        scores, made = score_run(run, ctx)
        result["variants"][key] = {**scores, "identities": ids, "adversarial": weight, "training": info}
        log(key, "scored", scores["summary"])
        main = main or (run, made)
        save(result)
    result.update(headline(result))
    result["complete"] = True
    save(result)
    return result, *main


def headline(result: dict) -> dict:
    """swap.json's ``paired`` keys: the main run's lowest content kept and identity, largest PSNR gap, the weakest
    content judge; the adversarial decoder's realism gain and PSNR cost; the pair against the K-identity run."""
    v = result["variants"]
    main, plain, pair = v["adv"]["summary"], v["no_adv"]["summary"], v["pair"]
    same = {k: v["adv"]["directions"][k] for k in pair["directions"]}
    out = {"content_kept": main["content_kept"], "identity": main["identity"], "psnr_gap_db": main["psnr_gap_db"],
           "judge_accuracy": min(i["test_accuracy"] for k, i in result["judges"].items() if k != "identity"),
           "identity_judge_accuracy": result["judges"]["identity"]["test_accuracy"],
           "realism": {"adversarial": main["realism"], "without": plain["realism"]},
           "realism_ranked": {"adversarial": main["realism_ranked"], "without": plain["realism_ranked"]},
           "kid": {"adversarial": main["kid"], "without": plain["kid"],
                   "floor": float(np.mean(list(v["adv"]["kid_floor"].values())))},
           "adversarial_cost_db": plain["psnr"] - main["psnr"],
           "pair_vs_all": {"pair": pair["summary"], "all_same_directions": summary(same)}}
    if "no_strokes" in v:  # what the encoder's stroke augmentations buy and cost
        keys = ("content_kept", "content_mean", "psnr", "ceiling_psnr", "psnr_gap_db", "kid")
        out["strokes"] = {"with": {k: main[k] for k in keys},
                          "without": {k: v["no_strokes"]["summary"][k] for k in keys}}
    out["goals"] = {"content_kept": out["content_kept"] >= GOALS["content_kept"],
                    "identity": out["identity"] >= GOALS["identity"],
                    "psnr_gap_db": out["psnr_gap_db"] <= GOALS["psnr_gap_db"],
                    "judge_accuracy": out["judge_accuracy"] >= GOALS["judge_accuracy"],
                    "adversarial": main["kid"] < plain["kid"]
                    and out["adversarial_cost_db"] <= GOALS["adversarial_cost_db"]}
    return out


def _row(label: str, s: dict, gap: bool = True) -> list[str]:
    real = f"{1000 * s['kid']:.1f} · {s['realism']:.3f} · {s['realism_ranked']:.3f}" if "realism" in s else ""
    return [label, f"{s['psnr']:.2f}", f"{s['ceiling_psnr']:.2f}" if gap else "",
            f"{s['psnr_gap_db']:.2f}" if gap else "", f"{s['ssim']:.3f}" if "ssim" in s else "",
            f"{s['content_kept']:.3f} / {s['content_mean']:.3f}" if gap else f"- / {s['content']:.3f}",
            f"{s['identity']:.3f}" if gap else f"- / {s['identity']:.3f}", real]


def variant_rows(p: dict) -> list[list[str]]:
    """One row per model, and the no-swap baselines (the source image itself; its reconstruction)."""
    v, pair = p["variants"], " and ".join(p["pair"])
    main = v["adv"]["summary"]
    return [_row(f"{len(p['identities'])} identities, adversarial decoder", main),
            _row("the same, without the adversarial decoder", v["no_adv"]["summary"]),
            *([_row("the same, without the encoder's stroke augmentations", v["no_strokes"]["summary"])]
              if "no_strokes" in v else []),
            _row(f"2 identities ({pair}), adversarial decoder", v["pair"]["summary"]),
            _row(f"{len(p['identities'])} identities, the same 2 directions", p["pair_vs_all"]["all_same_directions"]),
            _row("no swap: the source image itself", main["copy"], gap=False),
            _row("no swap: the source's own reconstruction", main["reconstruction"], gap=False),
            ["real drawings of the same digits (the realism floor)", *[""] * 6, f"{1000 * p['kid']['floor']:.1f} · - · -"]]


def direction_matrix(p: dict) -> list[list[str]]:
    """The main run, source by row, target by column: swap PSNR (gap to the ceiling) and content kept."""
    d, ids = p["variants"]["adv"]["directions"], p["identities"]
    return [[a, *("" if a == b else f"{d[f'{a}->{b}']['psnr']:.1f} (gap {d[f'{a}->{b}']['psnr_gap_db']:.1f}) · "
                  f"{d[f'{a}->{b}']['content']:.3f}" for b in ids)] for a in ids]


def goals_line(p: dict) -> str:
    g, ok = p["goals"], {True: "met", False: "not met"}
    return (f"Goals: content kept >= {GOALS['content_kept']} in every direction ({p['content_kept']:.3f}): "
            f"{ok[g['content_kept']]}; identity >= {GOALS['identity']} ({p['identity']:.3f}): {ok[g['identity']]}; "
            f"swap PSNR within {GOALS['psnr_gap_db']} dB of the ceiling (largest gap {p['psnr_gap_db']:.2f} dB): "
            f"{ok[g['psnr_gap_db']]}; content judges >= {GOALS['judge_accuracy']} on real drawings "
            f"({p['judge_accuracy']:.4f}): {ok[g['judge_accuracy']]}; the adversarial decoder more realistic (KID x "
            f"1000 {1000 * p['kid']['adversarial']:.1f} against {1000 * p['kid']['without']:.1f}{critic_words(p)}) "
            f"at a cost of at most {GOALS['adversarial_cost_db']} dB ({p['adversarial_cost_db']:+.2f} dB): {ok[g['adversarial']]}.")


def strokes_line(p: dict) -> str:
    """What the encoder's stroke augmentations buy (the weakest direction, the mean) and cost (the model's own
    reconstructions), against the same model trained without them."""
    w, wo = p["strokes"]["with"], p["strokes"]["without"]
    return (f"**The stroke augmentations** ({stroke_words(p['options']['model'])}), against the same model "
            f"without them: content kept in the weakest direction {wo['content_kept']:.3f} -> "
            f"{w['content_kept']:.3f} (mean {wo['content_mean']:.3f} -> {w['content_mean']:.3f}); swap PSNR "
            f"{wo['psnr']:.2f} -> {w['psnr']:.2f} dB; the model's own reconstructions (the ceiling) "
            f"{wo['ceiling_psnr']:.2f} -> {w['ceiling_psnr']:.2f} dB, so the largest gap {wo['psnr_gap_db']:.2f} -> "
            f"{w['psnr_gap_db']:.2f} dB is partly the ceiling's move.")


def weakest_shared(directions: list[str]) -> tuple[str, int]:
    """The one identity shared by the longest run of the first ``directions`` ("a->b", weakest first), and the
    length of that run (0 when not even the first two share exactly one identity)."""
    for n in range(len(directions), 1, -1):
        common = set.intersection(*(set(k.split("->")) for k in directions[:n]))
        if len(common) == 1:
            return common.pop(), n
    return "", 0


def kept_line(p: dict) -> str:
    """The directions of the main run that keep less of the digit than the goal, the identity the weakest of them
    share, and how much of the digit the model's own reconstructions keep (with and without the stroke
    augmentations, when both were trained)."""
    goal, v = GOALS["content_kept"], p["variants"]
    d = v["adv"]["directions"]
    short = sorted((k for k in d if d[k]["content"] < goal), key=lambda k: d[k]["content"])
    if not short:
        return f"Every direction of the main run keeps the digit at the goal of {goal} or more."
    low, high = d[short[0]]["content"], d[short[-1]]["content"]
    if len(short) == 1:  # the direction, and what the source image itself scores there
        verb, span, copy = "keeps", f"{arrow(short[0])}, {low:.3f}", d[short[0]]["copy"]
    else:
        verb, span, copy = "keep", f"{low:.3f} to {high:.3f}", v["adv"]["summary"]["copy"]
    line = (f"**Where aekit falls short.** {len(short)} of {len(d)} directions of the main run {verb} less of the "
            f"digit than the goal of {goal}: {span} (the source image itself scores {copy['content']:.3f})")
    who, n = weakest_shared(short)
    if n:
        line += (f"; the {n} weakest all go into or out of `{who}`" + (
            " (hollow strokes: the drawing that says least about the stroke inside)" if who == "outline" else ""))
    own = {b: c["content"] for b, c in v["adv"].get("ceiling", {}).items()}
    if not own:
        return line + "."
    low = min(own, key=own.get)
    line += (f". The model's own reconstructions keep {own[low]:.3f} (`{low}`) to {max(own.values()):.3f} of the "
             "digits")
    if "no_strokes" in v:
        plain = [c["content"] for c in v["no_strokes"]["ceiling"].values()]
        line += f" ({min(plain):.3f} to {max(plain):.3f} without the stroke augmentations)"
    return line + (f": `{low}` falls below the goal before any swap" if own[low] < goal else "") + "."


def stroke_words(model: dict) -> str:
    """Which stroke augmentations the encoder's training inputs had: the share thickened, seen as edges only."""
    thicken, edges = model.get("thicken", 0.0), model.get("edges", 0.0)
    words = [*([f"{thicken:.0%} of the encoder's training inputs with their strokes thickened (`thicken` "
                f"{thicken:g})"] if thicken else []),
             *([f"{edges:.0%} seen as their edges only (`edges` {edges:g})"] if edges else [])]
    return ", ".join(words)


def model_words(model: dict) -> str:
    """The swap model's backbone in a few words: `conv (32, 64, 128), 2 blocks per stage, a 16-channel code map`."""
    code = "channel code map" if model.get("spatial_code") else "dimensional code"
    return f"{conv_model(model)}, a {model['code_size']}-{code}"


def critic_words(p: dict) -> str:
    """The critics' rank figure beside the adversarial goal's kernel distance."""
    r = p["realism_ranked"]
    return (f"; its critics rank a swap above a real drawing {r['adversarial']:.3f} of the time, against "
            f"{r['without']:.3f}")


def encoder_input_words(model: dict) -> str:
    """How the encoder's training inputs were altered: recoloured, and the stroke augmentations."""
    share, strokes = model.get("recolour", 0.0), stroke_words(model)
    words = (f"{share:.0%} of the encoder's training inputs recoloured (`recolour` {share:g})" if share
             else "the encoder's input never recoloured")
    return words + (f", {strokes}" if strokes else "")


def paired_section(p: dict, table) -> list[str]:
    """The paired part of BENCHMARKS.md's swap section (``table``: _report.table)."""
    ids, t, m = p["identities"], p["variants"]["adv"]["training"], p["options"]["model"]
    return [
        "### Paired identities: swaps with a ground truth", "",
        f"Identities: aekit's renderers {', '.join(f'`{i}`' for i in ids)} (`aekit.data.identities`: stroke weight, "
        "hollow outline strokes, ink on a paper texture, ink bleed), each trained on its own "
        f"{min(t['images'].values())} MNIST training images (named datasets `mnist-<identity>`, disjoint: no "
        f"model sees a pair). On {p['data']['eval']} held-out MNIST test digits x, the swap a -> b is compared with "
        "the truth render_b(x) and with the ceiling, the same model's reconstruction of render_b(x). Content kept: "
        "a digit judge per identity trained on its drawings of MNIST's training images"
        f"{' and of a copy shifted by up to 2 pixels' if p['judges'][ids[0]].get('shift') else ''} (accuracy on real test "
        f"drawings {p['judge_accuracy']:.4f} at the lowest); identity: a {len(ids)}-way identity judge "
        f"({p['identity_judge_accuracy']:.4f}); realism: the kernel distance (KID, lower is closer; real drawings "
        "of the same digits score the floor) between the swaps into b and b's real drawings of other test digits "
        "in the features of b's digit judge; and a critic of real b against that model's swaps into b (trained "
        "on other test digits): the share of swaps it scores as real, and how often it ranks a swap above one of "
        "its held-out real drawings (0.5 when it cannot tell them apart; unlike the share, this does not hang on "
        f"where each critic's 0.5 falls). The swap models: {model_words(m)}, "
        f"{t['steps']} steps each on {device(p['machine'])}, seed 0, cycle term {m.get('cycle', 0.0):g}, "
        f"{encoder_input_words(m)}.", "",
        *table(["model", "swap PSNR", "ceiling", "largest gap (dB)", "SSIM", "content kept (lowest / mean)",
                "identity (lowest)", "realism: KID x 1000 · critic share · critic rank"], variant_rows(p)), "",
        "Per direction (adversarial run; source by row, target by column): swap PSNR in dB (its gap to the "
        "ceiling) · content kept.", "",
        *table(["source \\ target", *ids], direction_matrix(p)), "",
        goals_line(p), "", kept_line(p), "", *([strokes_line(p), ""] if "strokes" in p else []),
        "![paired swaps: per identity, the source, the truth, the swap and the ceiling]"
        "(benchmarks/results/swap-paired.png)", ""]
