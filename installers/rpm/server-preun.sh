# rollout-server %preun ($1: 0 erase, 1 upgrade): stop and disable on erase only.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
  systemctl disable --now rollout-server.service || true
fi
exit 0
