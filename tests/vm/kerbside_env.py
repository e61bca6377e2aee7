"""kerbside 0.8.0 (the SPICE proxy) in front of the test guest's QEMU, for run_e2e.py --kerbside.

Real parts only: kerbside and kerbside-proxy from PyPI in a venv under target/, a private MariaDB (Debian
mariadb-server) with its own data directory, socket and port, certificates made with openssl at run time, a
`static` console source pointing at QEMU's plain SPICE port with its password as the ticket, the daemon (which
supervises kerbside-proxy), the REST API under gunicorn, and a token from `kerbside demo token`. Everything binds
127.0.0.1; each process runs in its own session and is stopped by process group.

Python 3.11, standard library only.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Callable

VERSION = "0.8.0"
SOURCE = "ryll-test"
CONSOLE_UUID = "6f4e2c1a-0000-4000-8000-00000000e2e0"
# The proxy's certificate subject; the .vv file carries it as host-subject=.
HOST_SUBJECT = "C=XX,L=Test City,O=ryll tests,CN=kerbside.test"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def stop_group(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    """SIGTERM to the process group of a process started in its own session, then SIGKILL."""
    if proc is None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers of the group, if any
    except (ProcessLookupError, PermissionError):
        pass


def ensure_venv(venv: Path, log: Callable[[str], None]) -> None:
    """kerbside and kerbside-proxy at VERSION in `venv` (kept between runs as a cache)."""
    py = venv / "bin" / "python"
    stamp = venv / "kerbside-version"
    if py.exists() and stamp.is_file() and stamp.read_text().strip() == VERSION:
        return
    log(f"installing kerbside {VERSION} and kerbside-proxy {VERSION} from PyPI into {venv}")
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(py), "-m", "pip", "install", "-q", f"kerbside=={VERSION}", f"kerbside-proxy=={VERSION}"],
                   check=True, timeout=1800)
    stamp.write_text(VERSION + "\n")


class Kerbside:
    """A private kerbside deployment in `work`, fronting the SPICE server on 127.0.0.1:`spice_port`."""

    def __init__(self, venv: Path, work: Path, spice_port: int, ticket: str, log: Callable[[str], None],
                 token_minutes: int = 1) -> None:
        self.venv = venv
        self.work = work
        self.logs = work.parent  # logs go next to console.log, so the harness keeps them
        self.spice_port = spice_port
        self.ticket = ticket
        self.log = log
        self.token_minutes = token_minutes
        self.db_port = free_port()
        self.api_port = free_port()
        self.secure_port = free_port()
        self.insecure_port = free_port()
        self.metrics_port = free_port()
        self.seed = secrets.token_hex(32)
        self.db_password = secrets.token_hex(12)
        self.mariadb: subprocess.Popen | None = None
        self.daemon: subprocess.Popen | None = None
        self.api: subprocess.Popen | None = None
        self.mode = ""
        self.token = ""

    # -- pieces --------------------------------------------------------------------------------
    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        out = open(self.logs / f"kerbside-{name}.log", "ab")  # noqa: SIM115 (kept open for the child)
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=self.work, start_new_session=True)

    def wait_for(self, cond: Callable[[], bool], what: str, procs: list[subprocess.Popen], timeout: float) -> None:
        end = time.monotonic() + timeout
        while not cond():
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{what}: a process exited with status {p.returncode} (see kerbside-*.log)")
            if time.monotonic() > end:
                raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what} (see kerbside-*.log)")
            time.sleep(0.2)

    def start_mariadb(self) -> None:
        data = self.work / "mariadb"
        sock = self.work / "mariadb.sock"
        user = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--skip-test-db",
                        "--auth-root-authentication-method=normal", *user],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=300)
        self.mariadb = self.spawn("mariadb", [
            "mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={self.db_port}",
            "--bind-address=127.0.0.1", f"--pid-file={self.work / 'mariadb.pid'}", "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M", *user,
        ])
        self.wait_for(sock.exists, "MariaDB's socket", [self.mariadb], 60)
        sql = (f"CREATE DATABASE kerbside; CREATE USER 'kerbside'@'127.0.0.1' IDENTIFIED BY '{self.db_password}'; "
               "GRANT ALL ON kerbside.* TO 'kerbside'@'127.0.0.1';")
        for _ in range(50):
            r = subprocess.run(["mariadb", "--no-defaults", f"--socket={sock}", "-uroot", "-e", sql],
                               capture_output=True, timeout=30)
            if r.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"cannot create kerbside's database: {r.stderr.decode(errors='replace').strip()}")

    def make_certs(self) -> None:
        """A CA and the proxy's certificate, made with openssl. The proxy's certificate needs an extensions file:
        kerbside-proxy (rustls) refuses to load an X.509 v1 certificate, which `x509 -req` makes without one."""
        d = self.work
        (d / "server.ext").write_text("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                                      "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:kerbside.test\n")

        def ssl(*args: str) -> None:
            subprocess.run(["openssl", *args], check=True, cwd=d, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)

        ssl("genrsa", "-out", "ca-key.pem", "2048")
        ssl("req", "-new", "-x509", "-days", "30", "-key", "ca-key.pem", "-out", "ca-cert.pem",
            "-subj", "/C=XX/O=ryll tests/CN=kerbside test CA")
        ssl("genrsa", "-out", "server-key.pem", "2048")
        ssl("req", "-new", "-key", "server-key.pem", "-out", "server-key.csr",
            "-subj", "/" + HOST_SUBJECT.replace(",", "/"))
        ssl("x509", "-req", "-days", "30", "-in", "server-key.csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
            "-set_serial", "01", "-extfile", "server.ext", "-out", "server-cert.pem")

    def write_sources(self) -> None:
        (self.work / "sources.yaml").write_text(
            f"- source: {SOURCE}\n"
            "  type: static\n"
            "  consoles:\n"
            f"    - uuid: \"{CONSOLE_UUID}\"\n"
            "      name: \"ryll-testvm\"\n"
            "      hypervisor: \"localhost\"\n"
            "      hypervisor_ip: \"127.0.0.1\"\n"
            f"      insecure_port: {self.spice_port}\n"
            f"      ticket: \"{self.ticket}\"\n"
        )

    def env(self, mode: str) -> dict[str, str]:
        w = self.work
        env = {k: v for k, v in os.environ.items() if not k.startswith("KERBSIDE_")}
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"  # the daemon finds kerbside-proxy
        env.update({
            "KERBSIDE_SQL_URL": f"mysql://kerbside:{self.db_password}@127.0.0.1:{self.db_port}/kerbside",
            "KERBSIDE_SOURCES_PATH": str(w / "sources.yaml"),
            "KERBSIDE_AUTH_SECRET_SEED": self.seed,
            "KERBSIDE_PUBLIC_FQDN": "127.0.0.1",
            "KERBSIDE_PUBLIC_SECURE_PORT": str(self.secure_port),
            "KERBSIDE_PUBLIC_INSECURE_PORT": str(self.insecure_port),
            "KERBSIDE_NODE_NAME": "ryll-test-node",
            "KERBSIDE_VDI_ADDRESS": "127.0.0.1",
            "KERBSIDE_VDI_SECURE_PORT": str(self.secure_port),
            "KERBSIDE_VDI_INSECURE_PORT": str(self.insecure_port),
            "KERBSIDE_CACERT_PATH": str(w / "ca-cert.pem"),
            "KERBSIDE_PROXY_HOST_CERT_PATH": str(w / "server-cert.pem"),
            "KERBSIDE_PROXY_HOST_CERT_KEY_PATH": str(w / "server-key.pem"),
            "KERBSIDE_PROXY_HOST_SUBJECT": HOST_SUBJECT,
            "KERBSIDE_PROMETHEUS_METRICS_PORT": str(self.metrics_port),
            "KERBSIDE_PROMETHEUS_METRICS_ADDRESS": "127.0.0.1",
            "KERBSIDE_API_SOCKET_PATH": str(w / "api.sock"),
            "KERBSIDE_CONSOLE_TOKEN_DURATION": str(self.token_minutes),
            "KERBSIDE_LOG_OUTPUT_PATH": "stdout",
            "KERBSIDE_FIREWALL_MODE": mode,
        })
        return env

    # -- lifecycle -----------------------------------------------------------------------------
    def setup(self) -> None:
        """MariaDB, certificates, sources, the schema and the REST API (the daemon starts per mode)."""
        self.work.mkdir(parents=True, exist_ok=True)
        ensure_venv(self.venv, self.log)
        self.start_mariadb()
        self.make_certs()
        self.write_sources()
        env = self.env("enforce")
        subprocess.run([self.bin("kerbside"), "db", "upgrade"], check=True, env=env, cwd=self.work,
                       stdout=open(self.logs / "kerbside-db-upgrade.log", "wb"), stderr=subprocess.STDOUT,
                       timeout=300)
        self.api = self.spawn("api", [self.bin("gunicorn"), "--workers", "1", "--bind",
                                      f"127.0.0.1:{self.api_port}", "kerbside.api:app"], env)
        self.wait_for(lambda: port_open(self.api_port), "kerbside's REST API", [self.api], 60)
        token_file = self.work / "api-token.txt"
        subprocess.run([self.bin("kerbside"), "demo", "token", "--subject", "ryll-e2e", "--output", str(token_file)],
                       check=True, env=env, cwd=self.work, capture_output=True, timeout=120)
        self.token = token_file.read_text().strip()
        self.log(f"kerbside: MariaDB on 127.0.0.1:{self.db_port}, API on 127.0.0.1:{self.api_port}, "
                 f"proxy TLS on 127.0.0.1:{self.secure_port}")

    def start_daemon(self, mode: str) -> None:
        """The daemon (and its kerbside-proxy child) with firewall mode `mode` ("enforce" or "warn")."""
        self.stop_daemon()
        self.mode = mode
        self.daemon = self.spawn(f"daemon-{mode}", [self.bin("kerbside"), "daemon", "run"], self.env(mode))
        self.wait_for(lambda: port_open(self.secure_port) and port_open(self.insecure_port),
                      f"kerbside-proxy ({mode})", [self.daemon], 120)
        self.log(f"kerbside daemon running, firewall mode {mode}")

    def stop_daemon(self) -> None:
        stop_group(self.daemon, 15.0)
        self.daemon = None
        end = time.monotonic() + 20
        while (port_open(self.secure_port) or port_open(self.insecure_port)) and time.monotonic() < end:
            time.sleep(0.2)

    def console_vv(self, path: Path) -> str:
        """Fetches console.vv from the REST API with the bearer token into `path`; returns its text."""
        url = f"http://127.0.0.1:{self.api_port}/console/proxy/{SOURCE}/{CONSOLE_UUID}/console.vv"
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read(1024 * 1024).decode()
        path.write_text(text)
        return text

    def stop(self) -> None:
        self.stop_daemon()
        stop_group(self.api)
        self.api = None
        stop_group(self.mariadb, 30.0)
        self.mariadb = None
