"""The signers, Python and JavaScript, against the test vector in docs/security.md;
the client and the command line that reuse the Python one; the settings."""

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from progimage import cli
from progimage.client import Client
from progimage.config import Settings, SettingsError
from progimage.signing import canonical, signature, signed_query
from system_programs import require

ROOT = Path(__file__).resolve().parents[1]
SIGNER = ROOT / "clients" / "js" / "progimage-sign.mjs"
# What the JavaScript signer prints for the vector: its message, sig and query.
NODE_SCRIPT = """
const [signer, key, path, query] = process.argv.slice(1);
const m = await import(signer);
const pairs = [...new URLSearchParams(query)];
const options = Object.fromEntries(pairs.filter(([n]) => n !== "exp"));
const exp = pairs.find(([n]) => n === "exp");
console.log(JSON.stringify({
  message: m.canonical(path, pairs),
  sig: m.signature(key, path, pairs),
  query: m.signedQuery(key, path, options, {expires: exp && Number(exp[1])}),
}));
"""


@pytest.fixture(name="vector", scope="module")
def _vector() -> dict[str, str]:
    """The lines of the documented test vector, by name."""
    text = (ROOT / "docs" / "security.md").read_text()
    block = re.search(r"```text\n(key: .*?)```", text, re.S).group(1)
    return dict(line.split(": ", 1) for line in block.splitlines())


def test_the_python_signer_gives_the_documented_signature(vector):
    pairs = parse_qsl(vector["query"])
    assert canonical(vector["path"], pairs) == vector["message"]
    # The query of a signed URL, ``sig`` in it, gives the same message.
    assert canonical(vector["path"], [*pairs, ("sig", "x")]) == vector["message"]
    assert signature(vector["key"], vector["path"], pairs) == vector["sig"]
    options = dict(pair for pair in pairs if pair[0] != "exp")
    query = signed_query(vector["key"], vector["path"], options, 1893456000)
    assert query == f"{vector['query']}&sig={vector['sig']}"


def test_the_javascript_signer_gives_the_documented_signature(vector):
    node = require("node")
    done = subprocess.run(
        [node, "--input-type=module", "-e", NODE_SCRIPT, SIGNER.as_uri(),
         vector["key"], vector["path"], vector["query"]],
        capture_output=True, text=True, timeout=30, check=True,
    )
    assert json.loads(done.stdout) == {
        "message": vector["message"], "sig": vector["sig"],
        "query": f"{vector['query']}&sig={vector['sig']}",
    }


def test_the_client_signs_urls_with_its_key(vector):
    ref = vector["path"].removeprefix("/storage/").removesuffix(".webp")
    client = Client("https://img.example/", signing_key=vector["key"])
    url = client.url(ref, "webp", expires=1893456000, w=256, fit="cover",
                     bg="#ff8800")
    assert url == f"https://img.example{vector['path']}?{vector['query']}" \
        f"&sig={vector['sig']}"
    unsigned = Client("https://img.example")
    assert unsigned.url(ref, "webp", w=256) == \
        f"https://img.example/storage/{ref}.webp?w=256"
    assert unsigned.url(ref) == f"https://img.example/storage/{ref}"
    with pytest.raises(ValueError, match="signing key"):
        unsigned.url(ref, "webp", expires=1893456000)


def test_the_command_line_prints_a_signed_url(vector, capsys, monkeypatch):
    ref = vector["path"].removeprefix("/storage/").removesuffix(".webp")
    monkeypatch.setattr(cli.time, "time", lambda: 1893456000 - 60)
    status = cli.main([
        "--url", "https://img.example", "--signing-key", vector["key"],
        "sign", f"{ref}.webp", "--w", "256", "--fit", "cover", "--bg", "#ff8800",
        "--expires-in", "60",
    ])
    assert status == 0
    printed = urlsplit(capsys.readouterr().out.strip())
    assert printed.path == vector["path"]
    assert sorted(parse_qsl(printed.query)) == sorted(
        parse_qsl(f"{vector['query']}&sig={vector['sig']}")
    )


def test_the_command_line_needs_a_key(capsys, monkeypatch):
    monkeypatch.delenv("PROGIMAGE_SIGNING_KEYS", raising=False)
    assert cli.main(["sign", "0b6f1c1e-5d8a-4c47-9a5e-6f1d2f6b3c2a.webp"]) == 1
    assert "PROGIMAGE_SIGNING_KEYS" in capsys.readouterr().err


@pytest.mark.parametrize("values, message", [
    ({"signed_reads": "variants"}, "needs PROGIMAGE_SIGNING_KEYS"),
    ({"signed_reads": "some", "signing_keys": "k"}, "must be one of off, variants"),
])
def test_signed_reads_need_keys_and_a_known_mode(values, message):
    with pytest.raises(SettingsError, match=message):
        Settings(**values)
