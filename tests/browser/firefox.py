# firefox.py - a manual check of the web UI in Firefox ESR (Debian's
# firefox-esr), driven through Marionette: each page is loaded, must render
# its [data-page] element within 5 s, and is saved as a 1280x800 screenshot
# in /tmp/ffm-*.png. Not part of ctest (CI does not install Firefox);
# playwright-core cannot drive a stock Firefox, Marionette can.
#
# usage: python3 tests/browser/firefox.py http://127.0.0.1:8080 / /runs/ca1 ...
import base64, json, socket, subprocess, sys, time, os, shutil, tempfile

base = sys.argv[1]
paths = sys.argv[2:]
profile = tempfile.mkdtemp()
port = 28281
proc = subprocess.Popen(["firefox-esr", "--headless", "--marionette", "--no-remote", "--profile", profile,
                         "--window-size=1280,800"],
                        env=dict(os.environ, MOZ_MARIONETTE_PORT=str(port)),
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def connect():
    for _ in range(100):
        try:
            return socket.create_connection(("127.0.0.1", 2828), timeout=30)
        except OSError:
            time.sleep(0.2)
    raise SystemExit("no marionette")
s = connect()
buf = b""
def recv():
    global buf
    while b":" not in buf:
        buf += s.recv(65536)
    n, _, rest = buf.partition(b":")
    n = int(n)
    while len(rest) < n:
        rest += s.recv(1 << 20)
    msg, buf = rest[:n], rest[n:]
    return json.loads(msg)
mid = [0]
def cmd(name, params=None):
    mid[0] += 1
    data = json.dumps([0, mid[0], name, params or {}]).encode()
    s.sendall(str(len(data)).encode() + b":" + data)
    while True:
        r = recv()
        if r[0] == 1 and r[1] == mid[0]:
            if r[2]:
                raise RuntimeError(r[2])
            return r[3]
recv()  # hello
cmd("WebDriver:NewSession", {"capabilities": {}})
cmd("WebDriver:SetWindowRect", {"width": 1280, "height": 800})
ok = True
for p in paths:
    cmd("WebDriver:Navigate", {"url": base + p})
    state = None
    for _ in range(50):
        state = cmd("WebDriver:ExecuteScript", {"script": "const e = document.querySelector('[data-page]'); return e ? e.dataset.page + ' ' + document.querySelector('main').innerText.length : null;", "args": []})["value"]
        if state:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    shot = cmd("WebDriver:TakeScreenshot", {"full": False})["value"]
    name = "/tmp/ffm-" + p.strip("/").replace("/", "_").replace(":", "_") + ".png"
    open(name, "wb").write(base64.b64decode(shot))
    print(p, "->", state, name)
    ok = ok and state is not None
cmd("WebDriver:DeleteSession")
proc.terminate()
proc.wait()
shutil.rmtree(profile, ignore_errors=True)
sys.exit(0 if ok else 1)
