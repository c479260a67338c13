"""Helpers for tests that run the API as a server: start `raydeploy api`, call it, and drive its
web page in Debian's headless Chromium (selenium + chromedriver)."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ApiServer:
    proc: subprocess.Popen
    url: str
    token: str
    log: Path

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None,
             timeout: float = 30) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310 - loopback
        req.add_header("Authorization", f"Bearer {self.token if token is None else token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_api(tmp: Path, *args: str, timeout: float = 60) -> ApiServer:
    """`raydeploy api` on a free loopback port with its own token file; waits for /healthz."""
    port = free_port()
    token_file = tmp / "api-token"
    log = tmp / f"api-{port}.log"
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    with log.open("w") as out:
        proc = subprocess.Popen([str(BIN / "raydeploy"), "api", "--port", str(port), "--token-file",
                                 str(token_file), *args], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=PROJECT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"raydeploy api exited {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):  # noqa: S310 - loopback
                return ApiServer(proc, url, token_file.read_text().strip(), log)
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError(f"raydeploy api did not answer in {timeout} s:\n{log.read_text()}")


# -- the browser -------------------------------------------------------------------------------
def chromedriver() -> str:
    """chromedriver's path; installs Debian's chromium + chromium-driver when missing (root)."""
    proc = subprocess.run(["bash", str(PROJECT / "scripts" / "ensure-chromium.sh")], capture_output=True,
                          text=True, timeout=900)
    if proc.returncode != 0:
        raise AssertionError(f"cannot get Chromium: {proc.stderr[-2000:]}")
    return proc.stdout.strip().splitlines()[-1]


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000"):
        options.add_argument(arg)
    binary = "/usr/bin/chromium"
    if Path(binary).exists():
        options.binary_location = binary
    return webdriver.Chrome(service=Service(chromedriver()), options=options)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def approve_in_page(driver, url: str, token: str, checkpoint: str, by: str, reason: str,
                    timeout: float = 120) -> str:
    """Open the page, give it the token, wait for the pending approval of `checkpoint`, approve
    it with the risk acknowledged; returns the page's decision text."""
    from selenium.webdriver.common.by import By

    driver.get(url + "/")
    field = driver.find_element(By.ID, "token")
    field.clear()
    field.send_keys(token)
    driver.find_element(By.ID, "save-token").click()
    wait_for(lambda: driver.find_element(By.ID, "approval").is_displayed()
             and f"Checkpoint {checkpoint}" in driver.find_element(By.ID, "approval-title").text,
             timeout, f"the page to show the pending approval of {checkpoint}")
    for name, value in (("approved-by", by), ("reason", reason)):
        box = driver.find_element(By.ID, name)
        box.clear()
        box.send_keys(value)
    ack = driver.find_element(By.ID, "ack")
    if ack.is_displayed() and not ack.is_selected():
        ack.click()
    driver.find_element(By.ID, "approve").click()
    return wait_for(lambda: (t := driver.find_element(By.ID, "decision").text) and "approved" in t and t,
                    30, "the page to show the decision")


def png_summary(data: bytes) -> dict:
    """Width, height and how many distinct byte values the decoded image has (a blank page has
    very few), read with zlib: no imaging library needed."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    return {"width": width, "height": height, "bytes": len(data), "distinct": len(set(raw))}
