"""Local sandbox: Debian hosts with systemd and sshd as Docker containers."""
