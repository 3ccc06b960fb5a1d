// Ferryman console, release forms: the version is checked by the server's own rule as it
// is typed, and the notes preview follows the Markdown. Both forms work without this file.
"use strict";

const PAUSE_MS = 250;

// Calls `work` once typing has paused; a newer call aborts the one still in flight.
function debounced(work) {
  let timer = null;
  let running = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (running) running.abort();
      running = new AbortController();
      work(running.signal).catch((error) => {
        if (error.name !== "AbortError") throw error;
      });
    }, PAUSE_MS);
  };
}

function checkVersion(input) {
  const output = document.getElementById("version-check");
  const url = new URL(input.dataset.checkUrl, window.location.href);
  return debounced(async (signal) => {
    if (!input.value) {
      output.textContent = "";
      output.className = "check";
      return;
    }
    url.searchParams.set("version", input.value);
    const response = await fetch(url, { signal, headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const verdict = await response.json();
    output.textContent = verdict.message;
    output.className = verdict.ok ? "check ok" : "check field-error";
    input.setAttribute("aria-invalid", verdict.ok ? "false" : "true");
  });
}

function previewNotes(textarea) {
  const target = document.getElementById("notes-preview");
  const token = textarea.form.querySelector("input[name=csrf]").value;
  return debounced(async (signal) => {
    const response = await fetch(textarea.dataset.previewUrl, {
      method: "POST",
      signal,
      headers: { "X-CSRF-Token": token },
      body: new URLSearchParams({ notes: textarea.value }),
    });
    // The server renders the Markdown and sanitises the HTML (raw HTML becomes text).
    if (response.ok) target.innerHTML = await response.text();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const version = document.querySelector("input[data-check-url]");
  if (version) version.addEventListener("input", checkVersion(version));
  const notes = document.querySelector("textarea[data-preview-url]");
  if (notes) notes.addEventListener("input", previewNotes(notes));
  // The preview follows the typing, so the form's Preview button is for pages without us.
  for (const button of document.querySelectorAll("button[data-no-js-only]")) button.hidden = true;
});
