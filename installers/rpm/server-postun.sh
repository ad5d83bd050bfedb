# rollout-server %postun ($1: 0 erase, 1 upgrade). RPM has no purge: the database, the directive
# key and the rollout-server user are kept on erase, as the .deb keeps them on remove.
/sbin/ldconfig || true  # librollout_plugin
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
exit 0
