// Enhances the upload form: every file is sent on its own with a progress bar, then
// replaced by the server's card for it. Without this script the form posts as usual.
"use strict";
document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload");
  const input = document.getElementById("files");
  const drop = form.querySelector(".drop");
  const results = document.getElementById("results");
  const pending = document.getElementById("pending");
  const status = document.getElementById("status");
  const keyInput = document.getElementById("api-key");

  // The API key goes in a header, never in a URL; none when the field is empty.
  function authorization() {
    const key = keyInput.value.trim();
    return key ? {Authorization: "Bearer " + key} : {};
  }

  // With a key, images may be private: fetch them with it and show the blob.
  async function showWithKey(image) {
    const headers = authorization();
    if (!headers.Authorization) return;
    const response = await fetch(image.src, {headers});
    if (response.ok) image.src = URL.createObjectURL(await response.blob());
  }

  function upload(file) {
    const item = pending.content.firstElementChild.cloneNode(true);
    const [bar, state, error] = ["progress", ".state", ".error"].map((s) => item.querySelector(s));
    item.querySelector(".name").textContent = file.name;
    bar.setAttribute("aria-label", "Uploading " + file.name);
    const preview = item.querySelector("img");
    if (file.type.startsWith("image/")) {
      preview.src = URL.createObjectURL(file);
      preview.alt = "Preview of " + file.name;
      preview.onerror = () => preview.removeAttribute("src"); // e.g. HEIC here
    }
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "text/plain");
    Object.entries(authorization()).forEach(([name, value]) => {
      request.setRequestHeader(name, value);
    });
    request.upload.onprogress = (event) => {
      if (!event.lengthComputable) return;
      bar.value = Math.round((100 * event.loaded) / event.total);
      state.textContent = "Uploading… " + bar.value + "%";
    };
    request.onload = () => request.status === 200
      ? show(item, request.responseText.trim(), file.name)
      : fail(item, problem(request), file.name);
    request.onerror = () => fail(item, "The server cannot be reached; try again.", file.name);
    const data = new FormData();
    data.append("data", file);
    request.send(data);
    return item;
  }

  async function show(item, ref, name) {
    const response = await fetch(form.dataset.card.replace("REF", ref),
      {headers: authorization()});
    if (!response.ok) return fail(item, "Stored as " + ref + ", but it cannot be shown.", name);
    const holder = document.createElement("ol");
    holder.innerHTML = await response.text();
    const card = holder.firstElementChild;
    const [bar, state] = [item.querySelector("progress"), item.querySelector(".state")];
    bar.value = bar.max;
    state.textContent = "Uploaded " + name;
    state.classList.add("done");
    card.querySelector(".body").prepend(bar, state);
    URL.revokeObjectURL(item.querySelector("img").src);
    item.replaceWith(card);
    card.querySelectorAll(".preview img").forEach(showWithKey);
    status.textContent = name + " uploaded.";
    document.dispatchEvent(new CustomEvent("progimage:uploaded", {detail: {ref}}));
  }

  function fail(item, message, name) {
    item.classList.add("failed");
    item.querySelector(".state").textContent = name + " was not stored.";
    item.querySelector("progress").remove();
    item.querySelector(".preview").remove();
    item.querySelector(".error").textContent = message;
  }

  function problem(request) {
    try {
      return JSON.parse(request.responseText).detail;
    } catch {
      return "The upload failed (" + request.status + " " + request.statusText + ").";
    }
  }

  function uploadAll(files) {
    // The newest files go on top, in the order they were chosen.
    results.prepend(...Array.from(files, upload));
    input.value = "";
  }

  input.addEventListener("change", () => uploadAll(input.files));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    uploadAll(input.files);
  });
  // Files dropped anywhere on the page are uploaded, not opened by the browser.
  ["dragenter", "dragover"].forEach((type) => document.addEventListener(type, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((type) => document.addEventListener(type, () => {
    drop.classList.remove("over");
  }));
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    uploadAll(event.dataTransfer.files);
  });

  results.addEventListener("click", async (event) => {
    const button = event.target.closest(".copy");
    if (!button) return;
    try {
      await navigator.clipboard.writeText(button.dataset.ref);
    } catch {
      button.previousElementSibling.select();
      document.execCommand("copy");
    }
    button.textContent = "Copied";
    status.textContent = "Reference copied.";
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
});
