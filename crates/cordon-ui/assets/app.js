// Keeps the pending queue current without a reload: polls a server-rendered fragment
// and swaps it in only when it changed, so focus and reading position survive.
(function () {
  var queue = document.getElementById("queue");
  if (!queue) return;
  var last = queue.innerHTML;
  function refresh() {
    fetch("/fragment/pending", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (html !== last) { queue.innerHTML = html; last = html; }
      })
      .catch(function () {})
      .finally(function () { setTimeout(refresh, 1500); });
  }
  setTimeout(refresh, 1500);
})();
