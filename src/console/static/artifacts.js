// Ferryman console: uploading a release's artifacts, the one console feature that needs
// JavaScript. Files go from the browser straight to the bucket: the server records each
// upload and hands out a presigned URL, the bytes are PUT there, then the server checks
// them. Which file pairs with which .sig, and on which platform, the server says.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const section = document.getElementById("uploader");
  if (section) new Uploader(section).start();
});

class Uploader {
  constructor(section) {
    this.section = section;
    this.page = section.dataset.page;
    this.csrf = section.dataset.csrf;
    this.files = new Map(); // name -> File, .sig files included
    this.chosen = new Map(); // name -> platform a person chose
    this.pasted = new Map(); // name -> signature text a person pasted
    this.pinned = null; // the platform being replaced
    this.items = [];
    this.asked = 0; // pairing questions sent: only the latest answer is shown
    this.busy = false;
    this.find = (id) => document.getElementById(id);
  }

  start() {
    this.find("needs-js").hidden = true;
    this.find("upload-ui").hidden = false;
    this.revealReplaceButtons();
    const input = this.find("files");
    input.addEventListener("change", () => {
      this.add(input.files);
      input.value = "";
    });
    const zone = this.find("dropzone");
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      this.add(event.dataTransfer.files);
    });
    this.find("upload").addEventListener("click", () => this.uploadAll());
    this.find("clear").addEventListener("click", () => this.clear());
    this.find("cancel-replace").addEventListener("click", () => this.replace(null));
    document.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-replace]");
      if (button) this.replace(button.dataset.replace);
    });
  }

  revealReplaceButtons() {
    for (const button of document.querySelectorAll("button[data-replace]")) button.hidden = false;
  }

  add(fileList) {
    if (this.busy) return;
    for (const file of fileList) this.files.set(file.name, file);
    this.pair();
  }

  clear() {
    this.files.clear();
    this.chosen.clear();
    this.pasted.clear();
    this.items = [];
    this.find("queue").replaceChildren();
    this.find("left-over").hidden = true;
    this.find("queue-state").textContent = "";
    this.find("upload").disabled = true;
    this.find("clear").hidden = true;
  }

  replace(platform) {
    if (this.busy) return;
    this.pinned = platform;
    const note = this.find("replacing");
    note.hidden = platform === null;
    if (platform !== null) {
      this.clear();
      this.find("replacing-text").textContent =
        `Replacing the ${platform} file: choose or drop the new file and its .sig; ` +
        "it takes the old one's place once uploaded.";
      this.find("files").focus();
    } else if (this.files.size) {
      this.pair();
    }
  }

  // Asks the server how the chosen names pair up, then shows its answer.
  async pair() {
    const names = [...this.files.keys()];
    const overrides = {};
    for (const name of names) {
      const platform = this.pinned || this.chosen.get(name);
      if (platform && !name.endsWith(".sig")) overrides[name] = platform;
    }
    const asked = ++this.asked;
    const answer = await this.post(`${this.page}/pairing`, { names, overrides });
    if (asked !== this.asked) return;
    if (!answer.ok) {
      this.find("queue-state").textContent = messages(answer.body);
      return;
    }
    this.show(answer.body);
  }

  show(pairing) {
    const leftOver = this.find("left-over");
    leftOver.replaceChildren(...pairing.leftOver.map((text) => listItem(text)));
    leftOver.hidden = pairing.leftOver.length === 0;
    const same = pairing.files.length === this.items.length &&
      pairing.files.every((file, index) => file.name === this.items[index].file.name);
    if (same) {
      // Updated in place, so a control keeps its focus while a person chooses.
      pairing.files.forEach((file, index) => this.update(this.items[index], file));
    } else {
      this.items = pairing.files.map((file, index) => this.item(file, index));
      this.find("queue").replaceChildren(...this.items.map((item) => item.element));
    }
    const count = this.items.length;
    const upload = this.find("upload");
    upload.disabled = !pairing.ready;
    upload.textContent = count === 1 ? "Upload 1 file" : `Upload ${count} files`;
    this.find("clear").hidden = this.files.size === 0;
    this.find("queue-state").textContent = pairing.ready
      ? `${count === 1 ? "1 file" : `${count} files`} ready to upload.`
      : count
        ? "Give every file a platform of its own before uploading."
        : "Choose an updater file to upload.";
  }

  item(file, index) {
    const element = this.find("queue-item").content.firstElementChild.cloneNode(true);
    const part = (selector) => element.querySelector(selector);
    part("[data-name]").textContent = file.name;
    part("[data-size]").textContent = `${this.files.get(file.name).size.toLocaleString("en")} bytes`;
    const select = part("[data-field=platform]");
    const textarea = part("[data-field=signature]");
    for (const [field, control] of [["platform", select], ["signature", textarea]]) {
      control.id = `${field}-${index}`;
      const label = part(`[data-label=${field}]`);
      label.htmlFor = control.id;
      label.textContent = field === "platform"
        ? `Platform of ${file.name}`
        : `Signature of ${file.name} (the content of its .sig file)`;
    }
    select.addEventListener("change", () => {
      this.chosen.set(file.name, select.value);
      this.pair();
    });
    if (file.signature) {
      part("[data-signature-file]").textContent = `Signature: ${file.signature}`;
      part("[data-paste]").remove();
    } else {
      part("[data-signature-file]").remove();
      textarea.value = this.pasted.get(file.name) || "";
      textarea.addEventListener("input", () => this.pasted.set(file.name, textarea.value));
    }
    const problems = part("[data-problems]");
    problems.id = `problems-${index}`;
    select.setAttribute("aria-describedby", problems.id);
    const progress = part("[data-progress]");
    progress.setAttribute("aria-label", `Upload of ${file.name}`);
    const state = part("[data-state]");
    state.id = `state-${index}`;
    const item = { file, element, select, textarea, problems, progress, state };
    this.update(item, file);
    return item;
  }

  update(item, file) {
    item.file = file;
    if (item.select.value !== (file.platform || "")) item.select.value = file.platform || "";
    item.problems.replaceChildren(...file.problems.map((text) => listItem(text)));
  }

  async uploadAll() {
    this.busy = true;
    this.find("upload").disabled = true;
    for (const control of this.section.querySelectorAll("select, textarea")) control.disabled = true;
    for (const item of this.items) await this.upload(item);
    this.busy = false;
    this.pinned = null;
    this.find("replacing").hidden = true;
    this.files.clear();
    this.chosen.clear();
    this.pasted.clear();
    this.find("clear").hidden = true;
    this.find("upload").textContent = "Upload";
    this.find("queue-state").textContent = "Done: each file says how its upload went.";
    await this.refresh();
  }

  async upload(item) {
    const file = this.files.get(item.file.name);
    const signature = item.file.signature
      ? await this.files.get(item.file.signature).text()
      : item.textarea.value;
    item.state.textContent = "Starting";
    const begun = await this.post(`${this.page}/uploads`, {
      platform: item.select.value,
      filename: file.name,
      signature,
      fileSize: file.size,
    });
    if (!begun.ok) return this.refused(item, begun.body);
    try {
      await put(begun.body.upload, file, (sent) => {
        const percent = file.size ? Math.floor((sent * 100) / file.size) : 100;
        item.progress.value = percent;
        item.state.textContent = `Uploading: ${percent}% (${sent.toLocaleString("en")} of ${file.size.toLocaleString("en")} bytes)`;
      });
    } catch (error) {
      item.state.textContent = `Upload failed: ${error.message}`;
      item.element.classList.add("failed");
      return;
    }
    item.progress.value = 100;
    item.state.textContent = "Uploaded; checking the signature";
    const checked = await this.post(`${this.page}/${begun.body.artifact.id}/confirm`, {});
    if (!checked.ok) return this.refused(item, checked.body);
    const artifact = checked.body.artifact;
    item.element.classList.add(artifact.status.toLowerCase());
    item.state.textContent = artifact.status === "READY"
      ? `READY: uploaded and verified as ${artifact.platform}`
      : `${artifact.status}: ${artifact.failureReason}`;
  }

  refused(item, body) {
    item.element.classList.add("failed");
    item.state.textContent = `Refused: ${messages(body)}`;
    for (const field of Object.keys(body.errors || {})) {
      const control = field === "platform" ? item.select : field === "signature" ? item.textarea : null;
      if (control) {
        control.setAttribute("aria-invalid", "true");
        control.setAttribute("aria-describedby", item.state.id);
      }
    }
  }

  // The artifact list and publish line as the server now has them.
  async refresh() {
    const response = await fetch(this.page, { credentials: "same-origin" });
    const fresh = new DOMParser()
      .parseFromString(await response.text(), "text/html")
      .getElementById("artifacts");
    if (fresh) this.find("artifacts").replaceChildren(...fresh.childNodes);
    this.revealReplaceButtons();
  }

  // POSTs JSON to the console; the answer's JSON, or a refusal page's words.
  async post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": this.csrf },
      body: JSON.stringify(body),
    });
    if ((response.headers.get("content-type") || "").includes("application/json")) {
      return { ok: response.ok, body: await response.json() };
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const words = page.querySelector("main p")?.textContent || `HTTP ${response.status}`;
    return { ok: false, body: { errors: { "": words } } };
  }
}

// PUTs the file to its presigned URL, reporting the bytes sent as they go.
function put(upload, file, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", upload.url);
    for (const [name, value] of Object.entries(upload.headers)) {
      if (name.toLowerCase() !== "content-length") request.setRequestHeader(name, value);
    }
    request.upload.addEventListener("progress", (event) => onProgress(event.loaded));
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) resolve();
      else reject(new Error(`storage answered HTTP ${request.status}`));
    });
    request.addEventListener("error", () =>
      reject(new Error("storage could not be reached, or its CORS rule does not allow this page")),
    );
    // Without a type: the URL was signed for no Content-Type.
    request.send(file.slice());
  });
}

function messages(body) {
  return Object.values(body.errors || {}).join(" ") || "the server refused";
}

function listItem(text) {
  const item = document.createElement("li");
  item.textContent = text;
  return item;
}
