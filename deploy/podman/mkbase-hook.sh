#!/bin/sh
# mmdebstrap --customize-hook for scripts/image: makes the local debian:bookworm-slim behave like
# the official one (docker-library/debian, debuerreotype): no services start during installs,
# apt keeps no .deb cache and no package lists, no translations, gzip'ed indexes.
# Without these a runtime stage that runs apt-get keeps hundreds of MB of .debs.
# Usage: sh mkbase-hook.sh ROOTFS   (mmdebstrap passes the root as $1)
set -e
R="$1"
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"
chmod +x "$R/usr/sbin/policy-rc.d"
echo 'force-unsafe-io' > "$R/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
cat > "$R/etc/apt/apt.conf.d/docker-clean" <<'X'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
X
echo 'Apt::AutoRemove::SuggestsImportant "false";' > "$R/etc/apt/apt.conf.d/docker-autoremove-suggests"
echo 'Acquire::Languages "none";' > "$R/etc/apt/apt.conf.d/docker-no-languages"
printf 'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\n' \
  > "$R/etc/apt/apt.conf.d/docker-gzip-indexes"
# The official slim image drops documentation for every later install too.
cat > "$R/etc/dpkg/dpkg.cfg.d/docker-slim" <<'X'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
X
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/var/cache/apt/archives/*.deb \
       "$R"/var/log/*.log "$R"/var/log/apt/*
# Never delete "$R/tmp" here: mmdebstrap keeps its APT_CONFIG there, and its own clean-up would
# then run against the HOST's apt (emptying the host's /var/lib/apt/lists). scripts/image passes
# --skip=cleanup/apt for the same reason.
