# free_port: prints a TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it), for
# programs that cannot listen on port 0 and report the port (PostgreSQL, haproxy). Another
# process may take it before the caller binds: callers retry on "address in use".
# shellcheck shell=bash
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
