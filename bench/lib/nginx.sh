# Sourced by the benchmarks: start_nginx DIR WORKERS FILE serves DIR on a free 127.0.0.1 port,
# not as a daemon, with its files under DIR/nginx, and waits until FILE answers. Sets nport (the
# port) and npid (the process, for the caller's cleanup). The caller makes DIR and FILE readable
# by nginx's unprivileged workers (they drop root).
start_nginx() {
  local dir=$1 workers=$2 file=$3
  mkdir -p "$dir/nginx"
  # nginx cannot bind port 0 usefully; pick a free port through the kernel first.
  nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$dir/nginx.conf" <<NGINX
worker_processes $workers;
error_log $dir/nginx/error.log;
pid $dir/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/nginx; proxy_temp_path $dir/nginx; fastcgi_temp_path $dir/nginx;
  uwsgi_temp_path $dir/nginx; scgi_temp_path $dir/nginx;
  server { listen 127.0.0.1:$nport; location / { root $dir; } }
}
NGINX
  nginx -e "$dir/nginx/error.log" -p "$dir/nginx" -c "$dir/nginx.conf" -g 'daemon off;' &
  npid=$!
  local url="http://127.0.0.1:$nport/$file"
  for _ in $(seq 50); do
    curl -sf -o /dev/null -r 0-0 "$url" && return 0
    kill -0 "$npid" 2>/dev/null || { echo "nginx did not start:" >&2; cat "$dir/nginx/error.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "nginx does not answer on $url" >&2
  exit 1
}
