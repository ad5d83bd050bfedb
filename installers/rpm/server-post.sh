# rollout-server %post ($1: 1 install, 2 upgrade): as installers/debian/server/postinst.
user=rollout-server
state=/var/lib/rollout-server
if ! getent passwd "$user" >/dev/null; then
  useradd --system --user-group --home-dir "$state" --no-create-home \
    --shell /sbin/nologin --comment "Safe Agent Rollout server" "$user"
fi
install -d -m 0700 -o "$user" -g "$user" "$state"
if [ ! -e "$state/keys/directive.key" ]; then
  install -d -m 0700 -o "$user" -g "$user" "$state/keys"
  rm -f "$state/keys/directive.pub"
  rolloutctl keygen --role directive --out "$state/keys" >/dev/null
  chown "$user:$user" "$state/keys/directive.key" "$state/keys/directive.pub"
fi
chgrp "$user" /etc/rollout/server.yaml
chmod 0640 /etc/rollout/server.yaml
/sbin/ldconfig || true  # librollout_plugin
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if [ "$1" -eq 1 ]; then
    systemctl enable rollout-server.service
    systemctl start rollout-server.service || echo "rollout-server: not started yet; complete /etc/rollout/server.yaml, then: systemctl restart rollout-server" >&2
  else
    systemctl try-restart rollout-server.service || true
  fi
else
  echo "rollout-server: systemd is not running; rollout-server.service was neither enabled nor started" >&2
fi
exit 0
