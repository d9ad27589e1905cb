// The URL builder under the cards: every change of an option fetches the image it
// names (with the API key in a header, never in the URL) and shows the result, the
// URL, its size and time, and an <img srcset> to copy.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const section = document.getElementById("playground");
  const builder = document.getElementById("builder");
  const [title, preview, summary, error, url, snippet, result] = [
    "playground-ref", "pg-preview", "pg-summary", "pg-error", "pg-url", "pg-snippet",
    "pg-result",
  ].map((id) => document.getElementById(id));
  const keyInput = document.getElementById("api-key");
  // fetch() asks for */*: ask as an <img> of Chromium and Firefox does, so .auto
  // previews the format a page's image would get.
  const ACCEPT = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
  let ref = null;
  let running = null; // the AbortController of the fetch in flight
  let typing = null; // the timer that waits for a pause in typing

  // A query string with the options that have a value, commas left readable.
  function query(extra = {}) {
    const parts = [];
    const values = {};
    for (const field of builder.elements) {
      if (field.name && field.name !== "format" && field.value.trim() !== "") {
        values[field.name] = field.value.trim();
      }
    }
    Object.assign(values, extra);
    for (const [name, value] of Object.entries(values)) {
      parts.push(name + "=" + encodeURIComponent(value).replace(/%2C/gi, ","));
    }
    return parts.join("&");
  }

  function address(extra) {
    const format = builder.elements.format.value;
    const path = section.dataset.storage.replace("REF", ref + (format ? "." + format : ""));
    const search = query(extra);
    return new URL(path + (search ? "?" + search : ""), location.href).href;
  }

  function escape(text) {
    return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  }

  // Twice the pixels for 2x screens, when a size is asked for and dpr is not.
  function element(src, width, height) {
    const values = builder.elements;
    let srcset = "";
    if ((values.w?.value || values.h?.value) && !values.dpr?.value) {
      srcset = ` srcset="${escape(src)} 1x, ${escape(address({dpr: "2"}))} 2x"`;
    }
    return `<img src="${escape(src)}"${srcset} width="${width}" height="${height}" alt="">`;
  }

  function bytes(size) {
    if (size < 1000) return size + " bytes";
    return size < 999500 ? (size / 1000).toPrecision(3) + " kB"
      : (size / 1e6).toPrecision(3) + " MB";
  }

  async function problem(response) {
    try {
      return (await response.json()).detail;
    } catch {
      return response.status + " " + response.statusText;
    }
  }

  async function refresh() {
    if (!ref) return;
    if (running) running.abort();
    const controller = new AbortController();
    running = controller;
    const src = address();
    url.value = src;
    result.dataset.state = "loading";
    error.textContent = "";
    const key = keyInput ? keyInput.value.trim() : "";
    const started = performance.now();
    try {
      const response = await fetch(src, {
        headers: key ? {Accept: ACCEPT, Authorization: "Bearer " + key} : {Accept: ACCEPT},
        signal: controller.signal, cache: "no-store",
      });
      if (!response.ok) throw new Error(await problem(response));
      const blob = await response.blob();
      const took = Math.round(performance.now() - started);
      if (controller !== running) return;
      const old = preview.src;
      preview.src = URL.createObjectURL(blob);
      await preview.decode();
      if (old) URL.revokeObjectURL(old);
      if (controller !== running) return;
      const [width, height] = [preview.naturalWidth, preview.naturalHeight];
      preview.dataset.type = blob.type;
      preview.dataset.bytes = blob.size;
      summary.textContent = `${blob.type}, ${width} × ${height} px, ${bytes(blob.size)}`
        + `, ${took} ms`;
      snippet.value = element(src, width, height);
      result.dataset.state = "ready";
    } catch (failure) {
      if (controller !== running) return;
      summary.textContent = "";
      snippet.value = "";
      error.textContent = failure.name === "EncodingError"
        ? "This browser cannot show that format." : failure.message;
      result.dataset.state = "failed";
    }
  }

  function show(chosen) {
    ref = chosen;
    title.textContent = chosen;
    section.hidden = false;
    refresh();
  }

  builder.addEventListener("change", refresh);
  builder.addEventListener("input", (event) => {
    if (event.target.tagName !== "INPUT") return;
    clearTimeout(typing);
    typing = setTimeout(refresh, 400);
  });
  builder.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
  document.addEventListener("progimage:uploaded", (event) => show(event.detail.ref));
  document.getElementById("results").addEventListener("click", (event) => {
    const button = event.target.closest(".try");
    if (!button) return;
    show(button.dataset.ref);
    section.querySelector("select, input").focus();
  });
  section.addEventListener("click", async (event) => {
    const button = event.target.closest(".copy");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    try {
      await navigator.clipboard.writeText(source.value);
    } catch {
      source.select();
      document.execCommand("copy");
    }
    button.textContent = "Copied";
    document.getElementById("status").textContent = source.labels[0].textContent + " copied.";
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
});
