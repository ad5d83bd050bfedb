# rollout-agent %post ($1: 1 install, 2 upgrade): as installers/debian/agent/postinst.
install -d -m 0700 -o root -g root /var/lib/rollout-agent
install -d -m 0755 -o root -g root /opt/rollout-agent
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if [ "$1" -eq 1 ]; then
    systemctl enable rollout-agent.service
    systemctl start rollout-agent.service || echo "rollout-agent: not started yet; edit /etc/rollout/agent.yaml, then: systemctl restart rollout-agent" >&2
  else
    systemctl try-restart rollout-agent.service || true
  fi
else
  echo "rollout-agent: systemd is not running; rollout-agent.service was neither enabled nor started" >&2
fi
exit 0
