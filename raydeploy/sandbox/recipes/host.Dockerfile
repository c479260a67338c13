# A sandbox host: a bare Debian server with systemd as PID 1 and sshd, nothing Ray-specific.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ENV container=docker DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssh-server python3 python3-venv sudo \
      systemd systemd-sysv dbus iproute2 procps ca-certificates rsync \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
# Units that cannot work in a container would leave systemd "degraded" instead of "running".
RUN systemctl mask systemd-remount-fs.service getty.target console-getty.service \
      systemd-firstboot.service sys-kernel-config.mount sys-kernel-debug.mount \
      sys-kernel-tracing.mount systemd-udevd.service systemd-udev-trigger.service \
      systemd-modules-load.service
# Every host gets its own SSH host keys at first boot, so known_hosts can be strict.
RUN rm -f /etc/ssh/ssh_host_* \
 && printf '%s\n' '[Unit]' 'Description=Generate SSH host keys' 'Before=ssh.service' \
      'ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key' '[Service]' 'Type=oneshot' \
      'ExecStart=/usr/bin/ssh-keygen -A' '[Install]' 'WantedBy=multi-user.target' \
      > /etc/systemd/system/ssh-hostkeys.service \
 && systemctl enable ssh-hostkeys.service ssh.service
# The operator account, as on a real server: key login, passwordless sudo, no root login.
RUN useradd -m -s /bin/bash deploy \
 && install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh \
 && echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/deploy && chmod 0440 /etc/sudoers.d/deploy \
 && printf '%s\n' 'PasswordAuthentication no' 'PermitRootLogin no' 'UseDNS no' \
      > /etc/ssh/sshd_config.d/raydeploy.conf
STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
