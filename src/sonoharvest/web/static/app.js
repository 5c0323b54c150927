/* sonoharvest review: keyboard shortcuts, bulk selection, merge search. No inline script
   (the Content-Security-Policy forbids it); harvested text is only ever set as textContent. */
"use strict";

(function () {
  /** True when the key press belongs to a field the curator is typing in. */
  function typing(target) {
    return Boolean(target && target.closest &&
      target.closest("input, textarea, select, [contenteditable]"));
  }

  /** Submit the decision form as if `buttonId` had been clicked. */
  function submitWith(buttonId) {
    var button = document.getElementById(buttonId);
    if (!button || !button.form) { return false; }
    if (button.form.requestSubmit) { button.form.requestSubmit(button); } else { button.click(); }
    return true;
  }

  /** Follow the link with this id, if the page has it. */
  function follow(linkId) {
    var link = document.getElementById(linkId);
    if (!link) { return false; }
    window.location.assign(link.href);
    return true;
  }

  function submitForm(formId) {
    var form = document.getElementById(formId);
    if (!form) { return false; }
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    return true;
  }

  function focusReason() {
    var select = document.getElementById("reject-reason");
    if (!select) { return false; }
    select.focus();
    return true;
  }

  var ITEM_KEYS = {
    a: function () { return submitWith("btn-accept"); },
    r: focusReason,
    p: function () { return submitWith("btn-postpone"); },
    j: function () { return follow("next-link"); },
    n: function () { return follow("next-link"); },
    k: function () { return follow("prev-link"); },
    b: function () { return follow("prev-link"); },
    u: function () { return submitForm("form-undo-last"); }
  };

  function onItemKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) { return; }
    if (typing(event.target)) { return; }
    var action = ITEM_KEYS[event.key];
    if (action && action()) { event.preventDefault(); }
  }

  /** Enter on the focused reason select rejects (after `r`). */
  function onReasonKey(event) {
    if (event.key === "Enter" && event.target.value) {
      event.preventDefault();
      submitWith("btn-reject");
    }
  }

  function setupItemPage() {
    document.addEventListener("keydown", onItemKey);
    var select = document.getElementById("reject-reason");
    if (select) { select.addEventListener("keydown", onReasonKey); }
    setupMergeSearch();
  }

  /** One radio option of the merge target list, built without innerHTML. */
  function mergeOption(entity) {
    var label = document.createElement("label");
    label.className = "option";
    var radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "target";
    radio.value = entity.entity_id;
    radio.required = true;
    var id = document.createElement("span");
    id.className = "muted id";
    id.textContent = entity.entity_id + " · " + entity.kind;
    label.append(radio, " " + entity.name + " ", id);
    return label;
  }

  function showMergeOptions(box, entities, query) {
    box.replaceChildren();
    if (!entities.length) {
      var none = document.createElement("p");
      none.className = "muted";
      none.textContent = query ? "No entity matches." : "Search to list entities.";
      box.append(none);
      return;
    }
    entities.forEach(function (entity) { box.append(mergeOption(entity)); });
  }

  function setupMergeSearch() {
    var input = document.getElementById("merge-q");
    var box = document.getElementById("merge-options");
    var form = document.getElementById("merge-search");
    if (!input || !box || !form) { return; }
    var timer = null;
    var lookup = function () {
      var query = input.value.trim();
      if (!query) { showMergeOptions(box, [], ""); return; }
      var url = "/api/entities?q=" + encodeURIComponent(query) +
        "&exclude=" + encodeURIComponent(input.dataset.exclude || "");
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (entities) {
          if (input.value.trim() === query) { showMergeOptions(box, entities, query); }
        })
        .catch(function () { /* the Search button still works without script */ });
    };
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(lookup, 150);
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); lookup(); });
  }

  function setupQueuePage() {
    var all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll("input.pick").forEach(function (box) { box.checked = all.checked; });
      });
    }
    var bulk = document.getElementById("bulk");
    var scopeAll = document.getElementById("scope-all");
    if (bulk && scopeAll) {
      bulk.addEventListener("submit", function (event) {
        if (scopeAll.checked && !window.confirm("Apply this decision to all " +
            scopeAll.dataset.total + " items matching the filter?")) {
          event.preventDefault();
        }
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var page = document.body.dataset.page;
    if (page === "item") { setupItemPage(); }
    if (page === "queue") { setupQueuePage(); }
  });
})();
