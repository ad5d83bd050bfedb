# rollout-agent %postun ($1: 0 erase, 1 upgrade). RPM has no purge: state in /var/lib/rollout-agent
# and /opt/rollout-agent is kept on erase, as the .deb keeps it on remove.
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
exit 0
