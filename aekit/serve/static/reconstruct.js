"use strict";

const results = document.getElementById("results");
const file = document.getElementById("file");

function show(answer) {
  const cards = answer.results.map((r) => {
    if (r.error) return labelled(`${r.run}: ${r.error}`);
    const box = labelled(`${r.run} (${r.model}, code ${r.code_size ?? "-"}) MSE ${r.mse.toFixed(4)}, SSIM ${r.ssim.toFixed(3)}`,
      image(r.input), image(r.output));
    box.dataset.run = r.run;
    box.querySelectorAll("img")[0].classList.add("input");
    box.querySelectorAll("img")[1].classList.add("output");
    return box;
  });
  results.replaceChildren(...cards);
  results.dataset.state = "done";
}

async function send(useFile) {
  results.dataset.state = "busy";
  showError("");
  try {
    show(await postForm("/api/reconstruct", await pictureForm(pad, file, useFile)));
  } catch (e) {
    results.replaceChildren();
    results.dataset.state = "error";
    showError(e.message);
  }
}

const pad = new DrawPad(document.getElementById("pad"), () => send(false));
document.getElementById("clear").addEventListener("click", () => { pad.clear(); results.replaceChildren(); });
file.addEventListener("change", () => { if (file.files.length) send(true); });
