"use strict";

const runSelect = document.getElementById("run");
const noise = document.getElementById("noise");
const strength = document.getElementById("strength");
const results = document.getElementById("results");
const file = document.getElementById("file");
let runs = [];
let useFile = null;  // what was last sent: the drawing (false), the file (true), or nothing yet (null)

function picture(src, cls, caption) {
  const box = labelled(caption, image(src));
  box.querySelector("img").classList.add(cls);
  return box;
}

async function send(fromFile) {
  useFile = fromFile;
  showError("");
  results.dataset.state = "busy";
  try {
    const form = await pictureForm(pad, file, fromFile);
    form.append("run", runSelect.value);
    form.append("noise", noise.value);
    form.append("strength", strength.value);
    const r = await postForm("/api/denoise", form);
    results.replaceChildren(picture(r.clean, "clean", "clean"),
      picture(r.noisy, "noisy", `noisy (${r.noise} ${r.strength}): PSNR ${r.psnr_noisy.toFixed(2)} dB`),
      picture(r.denoised, "denoised", `denoised by ${r.run}: PSNR ${r.psnr_denoised.toFixed(2)} dB`));
    results.dataset.seed = r.seed;
    results.dataset.state = "done";
  } catch (e) {
    results.replaceChildren();
    results.dataset.state = "error";
    showError(e.message);
  }
}

function again() {
  if (useFile !== null) send(useFile);
}

function trained() {
  const run = runs.find((r) => r.name === runSelect.value);
  if (!run) return;
  document.getElementById("trained").textContent = `trained on ${run.noise} noise of strength ${run.noise_strength}`;
  if ([...noise.options].some((o) => o.value === run.noise)) noise.value = run.noise;
  strength.value = run.noise_strength;
}

const pad = new DrawPad(document.getElementById("pad"), () => send(false));
document.getElementById("clear").addEventListener("click", () => { pad.clear(); results.replaceChildren(); useFile = null; });
document.getElementById("again").addEventListener("click", again);
file.addEventListener("change", () => { if (file.files.length) send(true); });
runSelect.addEventListener("change", () => { trained(); again(); });
noise.addEventListener("change", again);
strength.addEventListener("change", again);

(async () => {
  try {
    const kinds = (await getJSON("/api/noises")).kinds;
    fillSelect(noise, kinds);
    runs = (await servedRuns()).filter((r) => r.denoiser && !r.table);
    if (!runs.length) { showError("no denoising run is served (train one with aekit train --noise gaussian)"); return; }
    fillSelect(runSelect, runs.map((r) => r.name));
    trained();
    document.body.dataset.ready = "yes";
  } catch (e) { showError(e.message); }
})();
