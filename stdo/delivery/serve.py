"""`stdo serve FOLDER --port 8080`: serve packages (and their DASH segments) as static files with nginx, in the
foreground, on the loopback address unless told otherwise. Packages are plain files; any static server does, and
this is the one-line way to run a standard one (nginx from the Debian packages: `apt-get install nginx-light`)."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ..errors import InputError

MIME = {"application/dash+xml": "mpd", "video/mp4": "mp4 m4s", "application/json": "json"}


def nginx_config(root, port: int, workdir, host: str = "127.0.0.1", slow_kbps: int = 64, extra: str = "") -> str:
    """An nginx configuration serving `root` at http://host:port/ (and, throttled to `slow_kbps`, at /slow/: a
    viewer's slow link), with its pid, logs and temporary files in `workdir`; `extra`: more server directives."""
    root, workdir = Path(root).resolve(), Path(workdir).resolve()
    temp = " ".join(f"{kind}_temp_path {workdir / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                       "uwsgi", "scgi"))
    types = " ".join(f"{mime} {suffixes};" for mime, suffixes in MIME.items())
    return f"""daemon off;
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 2;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    {temp}
    types {{ {types} }}
    default_type application/octet-stream;
    sendfile on;
    server {{
        listen {host}:{port};
        root {root};
        location /slow/ {{ alias {root}/; limit_rate {slow_kbps * 125}; }}
        {extra}
    }}
}}
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="stdo serve", description="Serve a folder of packages with nginx.")
    p.add_argument("folder", help="folder to serve (a results folder, a package, a streaming folder)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    args = p.parse_args(argv)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    try:
        if not Path(args.folder).is_dir():
            raise InputError(f"{args.folder}: no such folder")
        if not Path(nginx).exists():
            raise InputError("nginx is not installed (Debian: apt-get install nginx-light)")
    except InputError as err:
        print(f"stdo serve: error: {err}", file=sys.stderr)
        return 1
    workdir = tempfile.mkdtemp(prefix="stdo-serve-")
    config = Path(workdir) / "nginx.conf"
    config.write_text(nginx_config(args.folder, args.port, workdir, args.host))
    print(f"serving {Path(args.folder).resolve()} at http://{args.host}:{args.port}/ (nginx; Ctrl-C stops it)")
    os.execv(nginx, [nginx, "-c", str(config), "-p", workdir])
