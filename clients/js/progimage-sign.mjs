// Signs ProgImage URLs in Node, with nothing but node:crypto (docs/security.md).
//
//   import { signedUrl } from "./progimage-sign.mjs";
//   signedUrl("https://img.example", process.env.SIGNING_KEY, `${ref}.webp`,
//             { w: 256, fit: "cover" }, { expires: Math.floor(Date.now() / 1000) + 3600 });

import { createHmac } from "node:crypto";

// Percent-encoding that keeps only A-Z a-z 0-9 - _ . ~ (encodeURIComponent also
// keeps ! ' ( ) *), the same as the server's.
function encode(text) {
  return encodeURIComponent(String(text)).replace(
    /[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

function text(value) {
  return value === true ? "1" : value === false ? "0" : String(value);
}

// The message that is signed: the path, "?", and every name=value but sig,
// encoded, sorted as ASCII strings, joined by "&".
export function canonical(path, pairs) {
  const query = pairs
    .filter(([name]) => name !== "sig")
    .map(([name, value]) => `${encode(name)}=${encode(value)}`)
    .sort();
  return `${path}?${query.join("&")}`;
}

// The sig parameter: HMAC-SHA256 under key, URL-safe base64 without padding.
export function signature(key, path, pairs) {
  return createHmac("sha256", key).update(canonical(path, pairs)).digest("base64url");
}

// The query string of a signed URL for path (such as /storage/<ref>.webp).
export function signedQuery(key, path, options = {}, { expires } = {}) {
  if (!key) throw new Error("a signing key is needed to sign URLs");
  const pairs = Object.entries(options).map(([name, value]) => [name, text(value)]);
  if (expires !== undefined) pairs.push(["exp", String(Math.floor(expires))]);
  pairs.push(["sig", signature(key, path, pairs)]);
  return pairs.map(([name, value]) => `${encode(name)}=${encode(value)}`).join("&");
}

// The whole signed URL of name (<ref> or <ref>.<ext>) on the server at base.
export function signedUrl(base, key, name, options = {}, { expires } = {}) {
  const path = `/storage/${name}`;
  return `${base.replace(/\/+$/, "")}${path}?${signedQuery(key, path, options, { expires })}`;
}
