// The proofs job's progress, updated without reloading (the page works without it: a
// Refresh link). The workspace's own file: the CSP allows no inline script.
"use strict";
(function () {
  const job = document.getElementById("job");
  if (!job || job.dataset.state !== "running") return;
  const bar = document.getElementById("progress");
  const text = document.getElementById("progress-text");
  async function poll() {
    try {
      const r = await fetch(job.dataset.status, { credentials: "same-origin" });
      if (r.ok) {
        const s = await r.json();
        bar.max = s.total;
        bar.value = s.done;
        bar.textContent = s.percent + "%";
        text.textContent = s.done + " of " + s.total + " (" + s.percent + "%)" +
          (s.state === "running" ? ": being made" + (s.last_council ? ", last " + s.last_council : "") + "." : ".");
        if (s.state !== "running") { window.location.reload(); return; }
      }
    } catch (e) { /* the next poll tries again */ }
    window.setTimeout(poll, 2000);
  }
  window.setTimeout(poll, 2000);
})();
