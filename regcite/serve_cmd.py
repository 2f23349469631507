"""`regcite serve [--host H] [--port N]`: the HTTP API, with an OpenAI-compatible endpoint (FastAPI on uvicorn)."""
from __future__ import annotations

import ipaddress

DEFAULT_PORT = 8100  # beside vLLM's 8000 and the app's 8501


def add_arguments(name: str, parser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1); another needs users and API keys")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(name: str, args, settings) -> int:
    from rag.errors import AuthError, ConfigError
    from rag.records.book import open_book
    from rag.records.users import list_users

    if not 0 < args.port < 65536:
        raise ConfigError(f"--port {args.port}: a port is 1-65535")
    book = open_book(settings)
    has_users = bool(list_users(book))
    if not has_users and settings.auth == "password":
        raise AuthError("auth is \"password\" but no user exists: add an admin with `regcite users add NAME --role "
                        "admin` and a key with `regcite users key NAME`")
    if not has_users and not is_loopback(args.host):
        raise ConfigError(f"no users are defined, so the API would answer anyone without a key: it listens on "
                          f"loopback only (127.0.0.1, ::1), not {args.host}. Add an admin (`regcite users add NAME "
                          "--role admin`) and API keys (`regcite users key NAME`) to serve beyond this machine")
    import uvicorn

    from api.app import create_app

    app = create_app(settings, book=book, warm_up=True)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"regcite: serving the API at http://{shown}:{args.port}/v1 (docs at /docs, index {settings.index_dir}, "
          f"backend {settings.llm_backend}); Ctrl-C stops it", flush=True)
    if has_users:
        print("regcite: users are defined: every request needs an API key (`Authorization: Bearer KEY`; "
              "`regcite users key NAME` makes one)", flush=True)
    else:
        print("regcite: no users are defined: requests need no key and act as the local user, so the API listens "
              "on loopback only", flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    finally:
        book.db.dispose()
    return 0
