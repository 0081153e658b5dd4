"use strict";

(async () => {
  try {
    const rows = (await servedRuns()).map((run) => {
      const tr = document.createElement("tr");
      const uses = [run.table ? "table rows" : "reconstruct, latent map"];
      if (run.generative) uses.push("samples");
      if (run.domains.length) uses.push(`swap (${run.domains.join(", ")})`);
      if (run.denoiser) uses.push(`denoise (${run.noise} ${run.noise_strength})`);
      if (run.compress) uses.push("compress");
      if (!run.domains.length) uses.push("anomalies");
      for (const text of [run.name, run.model, run.input_shape.join("x"), run.code_size ?? "-", uses.join("; ")]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      return tr;
    });
    document.getElementById("runs").replaceChildren(...rows);
  } catch (e) { showError(e.message); }
})();
