// The bulk job page: poll the job's counters every second and move the progress bar, until the job
// has finished. No framework, no build step (the page's CSP allows scripts from claimd only).
(function () {
  "use strict";
  var job = document.getElementById("job");
  if (!job || !window.fetch) return;
  var $ = function (id) { return document.getElementById(id); };
  var url = job.getAttribute("data-progress");

  function show(p) {
    $("job-progress").value = p.percent;
    $("job-progress").textContent = p.percent + "%";
    $("job-percent").textContent = p.percent;
    $("job-total").textContent = p.total;
    $("job-succeeded").textContent = p.succeeded;
    $("job-failed").textContent = p.failed;
    if (p.finished) {
      $("job-status").textContent = p.failed
        ? "Finished: some rows failed; the report says why."
        : "Finished: every row succeeded.";
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (p) {
      show(p);
      if (!p.finished) setTimeout(poll, 1000);
    }).catch(function () {
      $("job-status").textContent = "The progress could not be read. Reload the page to try again.";
    });
  }

  if ($("job-status").textContent.indexOf("Finished") !== 0) setTimeout(poll, 1000);
})();
